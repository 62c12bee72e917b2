"""Tagged-sentence data for ``lgpt run --task ner``: reading, the label set, sub-token alignment, decoding.

Two input formats, chosen by suffix. ``.jsonl``/``.ndjson``: one ``{"tokens": [...], "tags": [...]}``
object per line. Anything else: CoNLL columns, one token per line with the word in the first column and
its tag in the last (so both ``word tag`` files and CoNLL-2003's ``word POS chunk tag`` read the same),
a blank line between sentences and ``-DOCSTART-`` lines ignored. Tags are BIO: ``O``, ``B-TYPE`` or
``I-TYPE``.

A bad sentence stops the read with E405 naming the file and line, like the dataset target's bad rows;
with ``skip_bad`` it goes to a rejects file instead (JSONL records ``row, field, reason, original``,
written atomically once the whole read succeeds) and is counted.

Models see sub-tokens, the data has words: ``align`` puts each word's tag on its first sub-token and
the ignore id (-100) everywhere else; ``words_from_tokens`` and ``repair_bio`` go back from sub-token
predictions to valid word-level BIO tags. transformers is never imported here: ``align`` only calls
the tokenizer it is given, so this module stays cheap to import.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import IO, Any, NamedTuple

from langgpt.ast import Span
from langgpt.atomic import write_text
from langgpt.errors import Diagnostic, DiagnosticError
from langgpt.loader import display_path
from langgpt.records import Record

#: Suffixes read as JSON lines; every other file is read as CoNLL columns.
JSONL_SUFFIXES = (".jsonl", ".ndjson")
#: The label id the token-classification loss skips (the transformers convention).
IGNORE = -100
DOCSTART = "-DOCSTART-"

_EXPECTED_JSONL = 'one JSON object per line: {"tokens": ["word", ...], "tags": ["O", "B-TYPE", ...]}, a tag per token'
_EXPECTED_CONLL = "one `word ... tag` line per token (tag O, B-TYPE or I-TYPE), a blank line between sentences"
_HINT = "fix the sentence, or pass skip_bad (--skip-bad) to write bad sentences to a rejects file"


class Sentence(Record):
    row: int  # line where the sentence starts: its JSONL line, or the CoNLL line of its first token
    tokens: tuple[str, ...]
    tags: tuple[str, ...]


class TaggedData(Record):
    sentences: tuple[Sentence, ...]
    rejected: int  # bad sentences (written to ``rejects`` with skip_bad)
    rejects: Path | None


class _Bad(NamedTuple):
    """A sentence that cannot be used: where, which field, why, and its text for the rejects file."""

    row: int
    field: str | None
    reason: str
    original: Any


_Line = tuple[int, str, bool]  # (line number, text without its line ending, whether it was valid UTF-8)


# ----------------------------------------------------------------------------- reading


def read_tagged(
    path: Path,
    *,
    skip_bad: bool = False,
    rejects: Path | None = None,
    limit: int | None = None,
    tags_optional: bool = False,
) -> TaggedData:
    """Sentences of a JSONL or CoNLL file, validated; ``limit`` stops after that many good sentences.

    Raises DiagnosticError (E405) on a missing or unreadable file and, without ``skip_bad``, on the
    first bad sentence. With ``skip_bad`` bad sentences go to ``rejects`` (which must then be given),
    one record each; that file is written only when the read completes. ``tags_optional``: input to
    predict, whose sentences may come without tags (JSONL rows without ``tags``, CoNLL lines with only
    the word); those get ``O`` tags as placeholders."""
    if skip_bad and rejects is None:
        raise ValueError("skip_bad needs a `rejects` path to write the bad sentences to")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    if skip_bad and rejects is not None and rejects.resolve() == path.resolve():
        raise ValueError("the rejects file cannot be the input file itself")
    shown = display_path(path)
    jsonl = path.suffix.lower() in JSONL_SUFFIXES
    sentences: list[Sentence] = []
    rejected: list[str] = []
    if limit != 0:
        with closing(
            _items(path, shown, jsonl, tags_optional)
        ) as items:  # closes the file as soon as `limit` stops the read
            for item in items:
                if isinstance(item, Sentence):
                    sentences.append(item)
                    if len(sentences) == limit:
                        break
                elif not skip_bad:
                    raise _row_error(shown, item, _EXPECTED_JSONL if jsonl else _EXPECTED_CONLL)
                else:
                    rejected.append(_reject_line(item))
    if skip_bad and rejects is not None:
        write_text(rejects, "".join(rejected))
    return TaggedData(tuple(sentences), len(rejected), rejects if skip_bad else None)


def _items(path: Path, shown: str, jsonl: bool, optional: bool) -> Generator[Sentence | _Bad, None, None]:
    with closing(_lines(path, shown)) as lines:  # closing this generator closes the file at once
        yield from _jsonl(lines, optional) if jsonl else _conll(lines, optional)


def _bad_file(shown: str, reason: str) -> DiagnosticError:
    return DiagnosticError(
        [Diagnostic("E405", f"{shown}: {reason}", None, "a JSONL or CoNLL file of tagged sentences")]
    )


def _open(path: Path, shown: str) -> IO[bytes]:
    if path.is_dir():
        raise _bad_file(shown, "is a folder, not a file of tagged sentences")
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise _bad_file(shown, "file not found") from None
    except OSError as exc:
        raise _bad_file(shown, f"cannot open ({exc.strerror})") from None


def _lines(path: Path, shown: str) -> Generator[_Line, None, None]:
    """Lines decoded one by one, so a stray non-UTF-8 byte spoils one sentence, not the file."""
    with _open(path, shown) as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            raw = raw.rstrip(b"\r\n")  # CRLF files too
            try:
                yield number, raw.decode("utf-8"), True
            except UnicodeDecodeError:
                yield number, raw.decode("utf-8", "replace"), False


def _row_error(shown: str, bad: _Bad, expected: str) -> DiagnosticError:
    where = f"field `{bad.field}`: " if bad.field else ""
    span = Span(file=shown, line=bad.row, col=1, end_line=bad.row, end_col=1)
    return DiagnosticError([Diagnostic("E405", f"{shown}:{bad.row}: {where}{bad.reason}", span, expected, _HINT)])


def _reject_line(bad: _Bad) -> str:
    record = {"row": bad.row, "field": bad.field, "reason": bad.reason, "original": bad.original}
    return json.dumps(record, ensure_ascii=False, default=str) + "\n"


def _short(text: str, width: int = 40) -> str:
    """Long values are cut in messages: one bad line must not flood the terminal."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _is_tag(tag: str) -> bool:
    return tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2)


def _tag_problem(tag: str) -> str | None:
    return None if _is_tag(tag) else f"`{_short(tag)}` is not a BIO tag (expected O, B-TYPE or I-TYPE)"


# ----------------------------------------------------------------------------- JSON lines


def _jsonl(lines: Iterator[_Line], optional: bool) -> Iterator[Sentence | _Bad]:
    for number, text, utf8 in lines:
        if not utf8:
            yield _Bad(number, None, "not valid UTF-8", text)
        elif text.strip():
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield _Bad(number, None, f"malformed JSON ({exc.msg} at column {exc.colno})", text)
            else:
                yield _json_sentence(number, obj, optional)


def _json_type(value: object) -> str:
    """JSON's names for types: the user wrote JSON, not Python."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _json_sentence(number: int, obj: object, optional: bool = False) -> Sentence | _Bad:
    if not isinstance(obj, dict):
        return _Bad(number, None, f"expected a JSON object per line, got {_json_type(obj)}", obj)
    if optional and "tags" not in obj and isinstance(obj.get("tokens"), list):
        obj = {**obj, "tags": ["O"] * len(obj["tokens"])}
    for field in ("tokens", "tags"):
        problem = _list_problem(obj, field)
        if problem is not None:
            return _Bad(number, field, problem, obj)
    tokens, tags = obj["tokens"], obj["tags"]
    if len(tags) != len(tokens):
        return _Bad(number, "tags", f"{len(tags)} tags for {len(tokens)} tokens", obj)
    for i, tag in enumerate(tags, start=1):
        problem = _tag_problem(tag)
        if problem is not None:
            return _Bad(number, "tags", f"tag {i}: {problem}", obj)
    return Sentence(number, tuple(tokens), tuple(tags))


def _list_problem(obj: dict[str, Any], field: str) -> str | None:
    """Why ``obj[field]`` is not a non-empty list of strings (None when it is)."""
    if field not in obj:
        return "missing"
    value = obj[field]
    if not isinstance(value, list):
        return f"expected an array of strings, got {_json_type(value)}"
    if not value:
        return "empty (a sentence needs at least one token)"
    item = field[:-1]  # "token", "tag"
    for i, text in enumerate(value, start=1):
        if not isinstance(text, str):
            return f"{item} {i} is {_json_type(text)}, not a string"
        if field == "tokens" and not text.strip():
            # a blank word yields no sub-token, so its tag could be neither learned nor predicted
            return f"{item} {i} is blank"
    return None


# ----------------------------------------------------------------------------- CoNLL columns


def _conll(lines: Iterator[_Line], optional: bool) -> Iterator[Sentence | _Bad]:
    block: list[_Line] = []
    for line in lines:
        _, text, utf8 = line
        if utf8 and (not text.strip() or text.startswith(DOCSTART)):
            # a document marker ends a sentence like a blank line does
            if block:
                yield _conll_sentence(block, optional)
                block = []
        else:
            block.append(line)
    if block:  # the file need not end with a blank line
        yield _conll_sentence(block, optional)


def _conll_sentence(block: list[_Line], optional: bool = False) -> Sentence | _Bad:
    original = "\n".join(text for _, text, _ in block)  # the sentence as written, to fix and put back
    words: list[str] = []
    tags: list[str] = []
    for number, text, utf8 in block:
        if not utf8:
            return _Bad(number, None, "not valid UTF-8", original)
        columns = text.split()
        if len(columns) == 1 and optional:
            columns.append("O")
        if len(columns) < 2:
            reason = f"missing: the line has one column (`{_short(columns[0])}`); expected the word first, its tag last"
            return _Bad(number, "tag", reason, original)
        problem = _tag_problem(columns[-1])
        if problem is not None:
            return _Bad(number, "tag", problem, original)
        words.append(columns[0])
        tags.append(columns[-1])
    return Sentence(block[0][0], tuple(words), tuple(tags))


# ----------------------------------------------------------------------------- labels and sub-tokens


def label_list(sentences: Iterable[Sentence]) -> tuple[str, ...]:
    """``O``, then ``B-T`` and ``I-T`` for each entity type T in sorted order.

    Both tags of a type are always included: a type seen only as ``B-`` in training can still be
    followed by an ``I-`` at prediction time, and the order must not depend on which tags appear."""
    types: set[str] = set()
    for sentence in sentences:
        for tag in sentence.tags:
            if tag == "O":
                continue
            if not _is_tag(tag):
                raise ValueError(f"sentence at line {sentence.row}: `{_short(tag)}` is not a BIO tag")
            types.add(tag[2:])
    return ("O", *(label for name in sorted(types) for label in (f"B-{name}", f"I-{name}")))


def align(
    tokenizer: Any, sentences: Sequence[Sentence], label_ids: Mapping[str, int], max_length: int
) -> list[dict[str, list[int]]]:
    """Tokenize the sentences' words in one batched call and label the sub-tokens.

    Each result has ``input_ids``, ``attention_mask``, ``labels`` and ``word_ids``. A word's tag id goes
    on its first sub-token; later sub-tokens and special tokens get -100 (ignored by the loss), and so
    does a tag missing from ``label_ids`` (an entity type the label set does not know, e.g. one seen
    only in evaluation data): it cannot be learned, and mapping it to ``O`` would teach the wrong
    answer. ``word_ids`` holds each token's word index, -1 for special tokens. Words past
    ``max_length`` are cut."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(
            f"NER needs a fast tokenizer (one that reports word ids); {type(tokenizer).__name__} is not fast"
        )
    if not sentences:
        return []
    encoded = tokenizer(
        [list(sentence.tokens) for sentence in sentences],
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
        return_attention_mask=True,
        return_token_type_ids=False,
    )
    aligned: list[dict[str, list[int]]] = []
    for i, sentence in enumerate(sentences):
        word_ids = [-1 if w is None else int(w) for w in encoded.word_ids(i)]
        aligned.append(
            {
                "input_ids": list(encoded["input_ids"][i]),
                "attention_mask": list(encoded["attention_mask"][i]),
                "labels": _token_labels(word_ids, sentence.tags, label_ids),
                "word_ids": word_ids,
            }
        )
    return aligned


def _token_labels(word_ids: Sequence[int], tags: Sequence[str], label_ids: Mapping[str, int]) -> list[int]:
    labels: list[int] = []
    previous = -1
    for word in word_ids:
        first = word >= 0 and word != previous
        labels.append(label_ids.get(tags[word], IGNORE) if first else IGNORE)
        previous = word
    return labels


def words_from_tokens(
    word_ids: Sequence[int], token_predictions: Sequence[int], n_words: int, id_to_label: Sequence[str]
) -> list[str]:
    """Word-level tags from sub-token predictions: each word takes its first sub-token's label.

    ``token_predictions`` may be longer than ``word_ids`` (a padded batch); the padding is ignored.
    Words with no token (cut by truncation) get ``O``. The result may not be valid BIO: pass it
    through ``repair_bio``."""
    if len(token_predictions) < len(word_ids):
        raise ValueError(f"{len(token_predictions)} predictions for {len(word_ids)} tokens")
    tags = ["O"] * n_words
    seen = [False] * n_words
    for word, prediction in zip(word_ids, token_predictions, strict=False):
        if 0 <= word < n_words and not seen[word]:
            tags[word] = id_to_label[prediction]
            seen[word] = True
    return tags


def repair_bio(tags: Sequence[str]) -> list[str]:
    """Valid BIO: an ``I-X`` that does not continue an ``X`` entity starts one (becomes ``B-X``)."""
    repaired: list[str] = []
    for tag in tags:
        if tag.startswith("I-"):
            name = tag[2:]
            before = repaired[-1] if repaired else "O"
            if before not in (f"B-{name}", f"I-{name}"):
                tag = f"B-{name}"
        repaired.append(tag)
    return repaired
