"""The ``dataset`` target: a template rendered for every row of a data file, as training examples.

::

    result = compile_dataset("prompts/sentiment.lgpt", data=Path("train.jsonl"), output=Path("out.jsonl"),
                             entry="classify_text", model="minilm")

Input: JSONL, CSV, TSV, or a folder written by HF ``datasets`` ``save_to_disk``. Each row's fields
that name declared variables are the variables (other fields are ignored); a label may be given by
name or index. Output, one record per good row, keys in this order:

- ``row``: the row's number in the source, as error messages count it (the line for JSONL; for
  CSV/TSV the record number with the header as 1; the position + 1 in a datasets folder);
- ``prompt``: what the text target gives with the answer slot empty;
- ``target``: the answer: the first verbalizer word of the label when the template's ``answer:`` is a
  label variable with a verbalizer, else the ``answer:`` variable's value as text (null without one);
- ``label``: the label's index for a label answer, else null;
- with ``model``, for a causal LM: ``input_ids`` (the prompt, the text between prompt and answer
  slot such as the space in ``Sentiment: {answer}``, the target, then EOS), ``attention_mask`` and
  ``labels`` (-100 on the prompt's tokens); for a masked LM: ``input_ids`` of the text with the answer
  slot replaced by the mask token, ``attention_mask`` and ``mask_positions``; for a seq2seq model:
  the prompt's ``input_ids``/``attention_mask`` and the target's ``labels``.

Rows stream through: read, checked, rendered (``langgpt.rows``), tokenized in chunks of
``CHUNK_ROWS`` and written, so memory stays flat whatever the row count. A bad row (malformed line,
missing field, unknown label, empty text, a value of the wrong type) stops the run with E405 naming the
file, row and field, or with ``skip_bad`` goes to a rejects file (``<output>.rejects.jsonl``: row,
field, reason, original row) and is counted in the result. Output is written to a temporary file or
folder beside the target and renamed into place only when complete: an error leaves nothing behind.
The same inputs give the same bytes.

transformers and datasets are imported only when a model or a datasets folder is involved.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from langgpt import ast
from langgpt.atomic import fsync_folder, umask
from langgpt.errors import Diagnostic, DiagnosticError, UsageError
from langgpt.loader import Program, display_path
from langgpt.records import Record
from langgpt.rows import SLOT, CompiledTemplate, RowError, compile_template, fill_text
from langgpt.types import VarValue, to_text

CHUNK_ROWS = 1000
FORMATS = ("jsonl", "hf")
KINDS = ("causal", "masked", "seq2seq")
PROGRESS_AFTER_S = 1.0

_encode = json.JSONEncoder(ensure_ascii=False).encode


class DatasetResult(Record):
    output: Path
    output_format: str
    entry: str
    rows: int  # records written
    rejected: int  # bad rows (written to ``rejects`` with skip_bad)
    rejects: Path | None
    model_kind: str | None  # causal | masked | seq2seq when tokenized
    seconds: float
    too_long: int = 0  # tokenized rows longer than the tokenizer's model_max_length (kept, not cut)

    def summary(self) -> str:
        text = f"wrote {self.rows:,} row{'s' if self.rows != 1 else ''} to {display_path(self.output)}"
        if self.rejects is not None:
            text += f"; {self.rejected:,} bad row{'s' if self.rejected != 1 else ''} to {display_path(self.rejects)}"
        if self.too_long:
            text += f"; {self.too_long:,} row{'s' if self.too_long != 1 else ''} longer than the model's maximum length"
        return text


# ----------------------------------------------------------------------------- reading rows

#: (row number, index among the file's rows, the row or None, why it is bad or None, the original)
Source = tuple[int, int, "dict[str, Any] | None", "str | None", Any]


class _Counter:
    def __init__(self) -> None:
        self.bytes = 0


def _bad_file(shown: str, reason: str) -> DiagnosticError:
    return DiagnosticError(
        [Diagnostic("E405", f"{shown}: {reason}", None, "a JSONL, CSV or TSV file or a datasets folder")]
    )


def _open(path: Path, shown: str) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise _bad_file(shown, f"cannot open ({exc.strerror})") from None


def _jsonl(path: Path, shown: str, counter: _Counter) -> Iterator[Source]:
    index = 0
    with _open(path, shown) as fh:
        for number, line in enumerate(fh, start=1):
            counter.bytes += len(line)
            if number == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8) :]
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                yield number, index, None, "not valid UTF-8", line.decode("utf-8", "replace").rstrip("\r\n")
                index += 1
                continue
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, index, None, f"malformed JSON ({exc.msg} at column {exc.colno})", text.rstrip("\r\n")
            else:
                if isinstance(row, dict):
                    yield number, index, row, None, row
                else:
                    yield number, index, None, f"expected a JSON object per line, got {type(row).__name__}", row
            index += 1


def _delimited(path: Path, shown: str, delimiter: str, counter: _Counter) -> Iterator[Source]:
    bad_lines: set[int] = set()

    def lines(fh: IO[bytes]) -> Iterator[str]:
        for number, line in enumerate(fh, start=1):
            counter.bytes += len(line)
            if number == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8) :]
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError:
                bad_lines.add(number)
                yield line.decode("utf-8", "replace")

    with _open(path, shown) as fh:
        reader = csv.reader(lines(fh), delimiter=delimiter)
        try:
            header = next(reader, None)
            if header is None:
                return
            if bad_lines:
                raise _bad_file(shown, "line 1 (the header) is not valid UTF-8")
            width = len(header)
            index = 0
            last_line = reader.line_num
            for number, cells in enumerate(reader, start=2):
                first_line, last_line = last_line + 1, reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                if bad_lines and any(n in bad_lines for n in range(first_line, last_line + 1)):
                    yield number, index, None, "not valid UTF-8", cells
                elif len(cells) != width:
                    yield number, index, None, f"{len(cells)} fields where the header has {width}", cells
                else:
                    row = dict(zip(header, cells, strict=True))
                    yield number, index, row, None, row
                index += 1
        except csv.Error as exc:
            raise _bad_file(shown, f"line {reader.line_num}: {exc}") from None


def _load_hf(path: Path, shown: str) -> Any:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise _bad_file(shown, f"not a datasets folder ({exc})") from None
    if not isinstance(ds, datasets.Dataset):
        splits = ", ".join(ds) if isinstance(ds, dict) else "?"
        raise _bad_file(shown, f"holds several splits ({splits}): pass one split's folder, e.g. {shown}/train")
    return ds


def _hf_rows(ds: Any, counter: _Counter) -> Iterator[Source]:
    number = 0
    for batch in ds.iter(batch_size=CHUNK_ROWS):
        columns = list(batch)
        for values in zip(*(batch[c] for c in columns), strict=True):
            row = dict(zip(columns, values, strict=True))
            number += 1
            counter.bytes = number
            yield number, number - 1, row, None, row


def _source(path: Path, shown: str, counter: _Counter) -> tuple[Iterator[Source], bool, int]:
    """Rows of a data file, whether its values are strings (CSV/TSV), and its size for progress
    (bytes of a file, rows of a datasets folder)."""
    if path.is_dir():
        ds = _load_hf(path, shown)
        return _hf_rows(ds, counter), False, int(ds.num_rows)
    if not path.exists():
        raise _bad_file(shown, "file not found")
    suffix = path.suffix.lower()
    size = path.stat().st_size
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl(path, shown, counter), False, size
    if suffix in (".csv", ".tsv"):
        return _delimited(path, shown, "\t" if suffix == ".tsv" else ",", counter), True, size
    raise _bad_file(shown, f"unknown data format `{suffix}` (expected .jsonl, .csv, .tsv or a datasets folder)")


# ----------------------------------------------------------------------------- targets and tokens


class _Example:
    __slots__ = ("after", "before", "extra", "ids", "label", "number", "prompt", "target")

    def __init__(
        self, number: int, prompt: str, target: str | None, label: int | None, before: str, after: str
    ) -> None:
        self.number = number
        self.prompt = prompt
        self.target = target
        self.label = label
        self.before = before  # the text up to the first answer slot (the separator included)
        self.after = after  # the text after it (further slots still marked)
        self.ids: list[int] | None = None  # input_ids (the attention mask is all ones: no padding)
        self.extra: list[int] | None = None  # labels or mask_positions


def _target_maker(program: Program, plan: CompiledTemplate) -> Callable[[Any], tuple[str | None, int | None]]:
    """(target text, label index) from the answer variable's typed value."""
    answer_type = plan.answer_type
    if answer_type is None:
        return lambda value: (None, None)
    if answer_type.name != "label":
        return lambda value: (to_text(value), None)
    labels = answer_type.labels
    words = _verbalizer_words(program, plan.answer_name, labels)
    index = {label: i for i, label in enumerate(labels)}
    table = {label: (words.get(label, label), index[label]) for label in labels}
    return lambda value: table[value]


def _verbalizer_words(program: Program, variable: str | None, labels: tuple[str, ...]) -> dict[str, str]:
    from langgpt.config import verbalizer_spec

    for block in program.document.configs():
        if block.kind == "verbalizer" and block.target == variable:
            spec, _ = verbalizer_spec(block, labels)
            return {label: words[0] for label, words in spec.labels if words}
    return {}


class _Tokens:
    """Tokenized fields for a chunk of examples (one batched call of a fast tokenizer)."""

    def __init__(self, tokenizer: Any, kind: str) -> None:
        self.tok = tokenizer
        self.kind = kind
        self.extra = "mask_positions" if kind == "masked" else "labels"
        self.eos = tokenizer.eos_token_id
        self.mask = tokenizer.mask_token
        self.mask_id = tokenizer.mask_token_id
        self.fast = bool(getattr(tokenizer, "is_fast", False))
        if kind == "masked" and (self.mask is None or self.mask_id is None):
            raise UsageError("this tokenizer has no mask token, so it cannot build masked-LM examples")
        if kind == "causal" and self.eos is None:
            raise UsageError("this tokenizer has no end-of-sequence token, so it cannot build causal-LM examples")

    def fill(self, chunk: list[_Example]) -> None:
        getattr(self, self.kind)(chunk)

    def _encode(self, texts: list[str], offsets: bool = False) -> Any:
        return self.tok(
            texts,
            return_attention_mask=False,
            return_token_type_ids=False,
            return_offsets_mapping=offsets,
        )

    def causal(self, chunk: list[_Example]) -> None:
        texts = [e.before + (e.target or "") for e in chunk]
        enc = self._encode(texts, self.fast)
        eos = self.eos
        for j, e in enumerate(chunk):
            ids = enc["input_ids"][j]
            boundary = len(e.before.rstrip())
            if self.fast:
                # tokens that start inside the prompt (special tokens such as BOS carry (0, 0))
                cut = sum(1 for start, _ in enc["offset_mapping"][j] if start < boundary)
            else:
                cut = len(self.tok(e.before[:boundary])["input_ids"])
            if not ids or ids[-1] != eos:
                ids.append(eos)
            e.ids = ids
            e.extra = [-100] * cut + ids[cut:]

    def masked(self, chunk: list[_Example]) -> None:
        mask, mask_id = self.mask, self.mask_id
        texts = [e.before + mask + e.after.replace(SLOT, mask) for e in chunk]
        enc = self._encode(texts)
        for j, e in enumerate(chunk):
            ids = enc["input_ids"][j]
            expected = 1 + e.after.count(SLOT)
            found = ids.count(mask_id)
            if found == 1 and expected == 1:
                positions = [ids.index(mask_id)]
            elif found == expected or not self.fast:
                positions = [i for i, t in enumerate(ids) if t == mask_id]
            else:
                # the row's own text spells the mask token: keep only the masks that stand for slots
                single = self.tok(texts[j], return_offsets_mapping=True, return_token_type_ids=False)
                ids = single["input_ids"]
                slots = _slot_starts(e, mask)
                positions = [
                    i
                    for i, (t, (start, _)) in enumerate(zip(ids, single["offset_mapping"], strict=True))
                    if t == mask_id and start in slots
                ]
            e.ids = ids
            e.extra = positions

    def seq2seq(self, chunk: list[_Example]) -> None:
        enc = self._encode([e.prompt for e in chunk])
        targets = self.tok(text_target=[e.target or "" for e in chunk], return_attention_mask=False)["input_ids"]
        for e, ids, target in zip(chunk, enc["input_ids"], targets, strict=True):
            e.ids = ids
            e.extra = list(target)


def _slot_starts(example: _Example, mask: str) -> set[int]:
    """Character offsets of the mask tokens that stand for answer slots."""
    starts = {len(example.before)}
    at = len(example.before) + len(mask)
    rest = example.after
    while True:
        k = rest.find(SLOT)
        if k == -1:
            return starts
        starts.add(at + k)
        at += k + len(mask)
        rest = rest[k + len(SLOT) :]


def _model_kind(model: str) -> str:
    from transformers import AutoConfig

    from langgpt.hf import model_kind, quiet_environment, resolve_model

    quiet_environment()
    where = resolve_model(model)
    try:
        config = AutoConfig.from_pretrained(where)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DiagnosticError(
            [Diagnostic("E406", f"cannot load the config of `{model}` ({where}): {first[:200]}")]
        ) from None
    return model_kind(config)


# ----------------------------------------------------------------------------- writing


class _AtomicFile:
    """A text file written beside its target and renamed into place by ``commit``."""

    def __init__(self, target: Path) -> None:
        self.target = target
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        self.temp = Path(name)
        self.handle = os.fdopen(fd, "w", encoding="utf-8", newline="\n")

    def commit(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.chmod(self.temp, 0o666 & ~umask())
        os.replace(self.temp, self.target)
        fsync_folder(self.target.parent)

    def abort(self) -> None:
        if not self.handle.closed:
            self.handle.close()
        self.temp.unlink(missing_ok=True)


_ONES: dict[int, str] = {}


def _ones(n: int) -> str:
    """The JSON of an all-ones attention mask of length n (cached: lengths repeat)."""
    text = _ONES.get(n)
    if text is None:
        text = _ONES[n] = "[" + ", ".join(["1"] * n) + "]"
    return text


def _json_line(e: _Example, extra: str) -> str:
    """``json.dumps(record, ensure_ascii=False)`` of a record, faster: lists of ints print alike."""
    target = "null" if e.target is None else _encode(e.target)
    label = "null" if e.label is None else str(e.label)
    line = f'{{"row": {e.number}, "prompt": {_encode(e.prompt)}, "target": {target}, "label": {label}'
    if e.ids is not None:
        line += f', "input_ids": {e.ids}, "attention_mask": {_ones(len(e.ids))}, "{extra}": {e.extra}'
    return line + "}\n"


def _record(e: _Example, extra: str) -> dict[str, Any]:
    record: dict[str, Any] = {"row": e.number, "prompt": e.prompt, "target": e.target, "label": e.label}
    if e.ids is not None:
        record["input_ids"] = e.ids
        record["attention_mask"] = [1] * len(e.ids)
        record[extra] = e.extra
    return record


def _features(kind: str | None) -> Any:
    import datasets

    seq = getattr(datasets, "List", None) or datasets.Sequence
    spec: dict[str, Any] = {
        "row": datasets.Value("int64"),
        "prompt": datasets.Value("string"),
        "target": datasets.Value("string"),
        "label": datasets.Value("int64"),
    }
    if kind is not None:
        spec["input_ids"] = seq(datasets.Value("int32"))
        spec["attention_mask"] = seq(datasets.Value("int8"))
        if kind == "masked":
            spec["mask_positions"] = seq(datasets.Value("int32"))
        else:
            spec["labels"] = seq(datasets.Value("int64"))
    return datasets.Features(spec)


def _replace_path(new: Path, target: Path, scratch: Path) -> None:
    """Move ``new`` (a folder) to ``target``, moving whatever is there out of the way first."""
    if target.exists() or target.is_symlink():
        old = scratch / "previous"
        os.replace(target, old)
    os.replace(new, target)
    fsync_folder(target.parent)


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    fsync_folder(folder)


# ----------------------------------------------------------------------------- progress


class _Progress:
    """A rich progress bar, shown only once a run has taken longer than ``PROGRESS_AFTER_S``."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self.enabled = enabled
        self.total = total
        self.label = label
        self.started = time.perf_counter()
        self.bar: Any = None
        self.task: Any = None

    def update(self, done: int, rows: int, bad: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.started < PROGRESS_AFTER_S:
                return
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[rows]:,} rows{task.fields[bad]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total or None, rows=0, bad="")
        bad_text = f", {bad:,} bad" if bad else ""
        self.bar.update(self.task, completed=done, rows=rows, bad=bad_text)

    def close(self, done: int, rows: int, bad: int) -> None:
        if self.bar is not None:
            self.update(self.total or done, rows, bad)
            self.bar.stop()


# ----------------------------------------------------------------------------- the target


def compile_dataset(
    program: Program | str | os.PathLike[str],
    *,
    data: Path,
    output: Path,
    entry: str | None = None,
    model: str | None = None,
    output_format: str = "jsonl",
    skip_bad: bool = False,
    rejects: Path | None = None,
    variables: dict[str, VarValue] | None = None,
    progress: bool = True,
    kind: str | None = None,
    tokenizer: Any = None,
    max_rows: int | None = None,
    answers: bool = True,
) -> DatasetResult:
    """Render the template ``entry`` (default: the first) for every row of ``data`` into ``output``
    (JSONL, or a datasets folder with ``output_format="hf"``); see the module docstring. ``model``
    adds tokenized fields (a local folder, ``minilm`` or a cached hub name); ``kind`` overrides the
    model kind read from its config (causal | masked | seq2seq); ``tokenizer`` is an already loaded
    tokenizer to use instead of loading ``model``'s (then ``kind`` or ``model`` says the kind). ``variables`` are values for every
    row (a row's own field wins). ``max_rows``: stop after that many good rows (train on the first N).
    ``answers=False``: rows without the answer field are fine (prediction inputs): target and label null.
    Raises DiagnosticError (E405 for bad data) or UsageError."""
    from langgpt.compiler import check, load

    started = time.perf_counter()
    data, output = Path(data), Path(output)
    if output_format not in FORMATS:
        raise UsageError(f"unknown dataset format `{output_format}` (choose from {', '.join(FORMATS)})")
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown model kind `{kind}` (choose from {', '.join(KINDS)})")
    program = program if isinstance(program, Program) else load(program)
    errors = [d for d in check(program) if d.is_error]
    if errors:
        raise DiagnosticError(errors)
    plan = compile_template(program, entry, data_path=data if data.is_file() else None, variables=variables)
    shown = display_path(data)
    rejects_path = (rejects or output.with_name(output.name + ".rejects.jsonl")) if skip_bad else None
    if rejects_path is not None and rejects_path.resolve() == output.resolve():
        raise UsageError("the rejects file cannot be the output itself")

    tokens: _Tokens | None = None
    if model is not None or tokenizer is not None:
        if tokenizer is None:
            from langgpt.hf import load_tokenizer

            tokenizer = load_tokenizer(model)
        if kind is None:
            if model is None:
                raise UsageError("with a tokenizer object, pass `kind` (causal, masked or seq2seq) or `model`")
            kind = _model_kind(model)
        tokens = _Tokens(tokenizer, kind)
    elif kind is not None:
        raise UsageError("`kind` needs a `model` or a `tokenizer` to tokenize with")

    counter = _Counter()
    rows, strings, total = _source(data, shown, counter)
    bar = _Progress(progress, total, f"{plan.name} -> {output.name}")
    target_of = _target_maker(program, plan)
    stats = {"rows": 0, "bad": 0, "long": 0}
    limit = getattr(tokenizer, "model_max_length", None) if tokens is not None else None
    max_length = limit if isinstance(limit, int) and 0 < limit < 1_000_000 else None

    output.parent.mkdir(parents=True, exist_ok=True)
    reject_file = _AtomicFile(rejects_path) if rejects_path is not None else None

    def bad(number: int, field: str | None, reason: str, original: Any) -> None:
        if reject_file is None:
            where = f"field `{field}`: " if field else ""
            raise DiagnosticError(
                [
                    Diagnostic(
                        "E405",
                        f"{shown}:{number}: {where}{reason}",
                        ast.Span(file=shown, line=number, col=1, end_line=number, end_col=1),
                        None,
                        "fix the row, or pass skip_bad (--skip-bad) to write bad rows to a rejects file",
                    )
                ]
            )
        stats["bad"] += 1
        reject = {"row": number, "field": field, "reason": reason, "original": original}
        reject_file.handle.write(json.dumps(reject, ensure_ascii=False, default=str) + "\n")

    def chunks() -> Iterator[list[_Example]]:
        chunk: list[_Example] = []
        good = 0
        for number, index, row, error, original in rows:
            if max_rows is not None and good >= max_rows:
                break
            if row is None:
                bad(number, None, error or "bad row", original)
                continue
            try:
                values = plan.values(row, strings=strings, index=index)
                raw = plan.render(values)
                answered = plan.answer_type is not None and (answers or plan.has_answer(values))
                target, label = target_of(plan.answer_value(values)) if answered else (None, None)
            except RowError as exc:
                bad(number, exc.field, exc.reason, original)
                continue
            except DiagnosticError as exc:
                first = exc.diagnostics[0] if exc.diagnostics else None
                bad(number, None, f"{first.code} {first.message}" if first else str(exc), original)
                continue
            if isinstance(raw, str):
                prompt = fill_text(raw, None)
                slotted = raw
            else:
                prompt = plan.text(raw)
                slotted = plan.slotted(raw)
            before, _, after = slotted.partition(SLOT)
            chunk.append(_Example(number, prompt, target, label, before, after))
            good += 1
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    extra = tokens.extra if tokens is not None else ""

    def examples() -> Iterator[_Example]:
        for chunk in chunks():
            if tokens is not None:
                tokens.fill(chunk)
                if max_length is not None:
                    stats["long"] += sum(1 for e in chunk if e.ids is not None and len(e.ids) > max_length)
            yield from chunk
            stats["rows"] += len(chunk)
            bar.update(counter.bytes, stats["rows"], stats["bad"])

    try:
        if output_format == "jsonl":
            out = _AtomicFile(output)
            try:
                write = out.handle.write
                for example in examples():
                    write(_json_line(example, extra))
                out.commit()
            except BaseException:
                out.abort()
                raise
        else:
            model_id = model or (getattr(tokenizer, "name_or_path", None) if tokenizer is not None else None)
            fingerprint = _fingerprint(program, plan.name, data, model_id, tokens.kind if tokens else None, variables)
            records = (_record(e, extra) for e in examples())
            _write_hf(output, records, _features(tokens.kind if tokens else None), fingerprint)
        if reject_file is not None:
            reject_file.commit()
    except BaseException:
        if reject_file is not None:
            reject_file.abort()
        raise
    finally:
        bar.close(counter.bytes, stats["rows"], stats["bad"])

    result = DatasetResult(
        output=output,
        output_format=output_format,
        entry=plan.name,
        rows=stats["rows"],
        rejected=stats["bad"],
        rejects=rejects_path,
        model_kind=tokens.kind if tokens else None,
        seconds=time.perf_counter() - started,
        too_long=stats["long"],
    )
    return result


def _fingerprint(
    program: Program, entry: str, data: Path, model: str | None, kind: str | None, variables: dict[str, Any] | None
) -> str:
    """A hash of everything the output depends on (the datasets folder records it: same inputs,
    same bytes)."""
    digest = hashlib.sha256()
    for name in sorted(program.sources):
        digest.update(name.encode() + b"\0" + program.sources[name].encode() + b"\0")
    digest.update(json.dumps([entry, model, kind, variables], sort_keys=True, default=str).encode())
    if data.is_dir():
        state = data / "state.json"
        digest.update(state.read_bytes() if state.exists() else str(data.resolve()).encode())
    else:
        with data.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:32]


def _write_hf(output: Path, records: Iterator[dict[str, Any]], features: Any, fingerprint: str) -> None:
    import datasets
    from datasets.utils import disable_progress_bars, enable_progress_bars, is_progress_bar_enabled

    scratch = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp"))
    failure: list[BaseException] = []

    def generate() -> Iterator[dict[str, Any]]:
        try:
            yield from records
        except BaseException as exc:
            failure.append(exc)
            raise

    bars = is_progress_bar_enabled()
    disable_progress_bars()
    try:
        try:
            ds = datasets.Dataset.from_generator(
                generate, features=features, cache_dir=str(scratch / "cache"), fingerprint=fingerprint
            )
            folder = scratch / "data"
            ds.save_to_disk(str(folder))
            del ds
        except BaseException:
            if failure:
                raise failure[0] from None
            raise
        _fsync_tree(folder)
        _replace_path(folder, output, scratch)
    finally:
        if bars:
            enable_progress_bars()
        shutil.rmtree(scratch, ignore_errors=True)


__all__ = ["CHUNK_ROWS", "DatasetResult", "compile_dataset"]
