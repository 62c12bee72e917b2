"""Tagged-sentence data for ``--task ner`` (``langgpt.runtime.ner``).

JSONL and CoNLL files read to the same sentences, with the line each starts on; every kind of bad
input is E405 naming file and line, or with skip_bad a record in the rejects file; ``limit`` stops
early; the label set is stable; sub-token labels go on each word's first piece only (checked with the
tiny WordPiece tokenizer of tests/tinymodels.py) and predictions come back as valid word-level BIO.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT

from langgpt import DiagnosticError
from langgpt.loader import display_path
from langgpt.runtime.ner import (
    IGNORE,
    Sentence,
    TaggedData,
    align,
    label_list,
    read_tagged,
    repair_bio,
    words_from_tokens,
)

FIXTURES = Path("tests/fixtures/ner")

TRAIN_CONLL = [
    Sentence(3, ("Maria", "visited", "Paris", "."), ("B-PER", "O", "B-LOC", "O")),
    Sentence(8, ("The", "Acme", "Corp", "opened", "."), ("O", "B-ORG", "I-ORG", "O", "O")),
    Sentence(16, ("Rain", "fell", "in", "Berlin"), ("O", "O", "O", "B-LOC")),
]
WORDS_TXT = [
    Sentence(1, ("John", "Smith", "works"), ("B-PER", "I-PER", "O")),
    Sentence(5, ("at", "Globex"), ("O", "B-ORG")),
]
SAMPLE_JSONL = [
    Sentence(1, ("Ada", "Lovelace", "lived", "in", "London"), ("B-PER", "I-PER", "O", "O", "B-LOC")),
    Sentence(3, ("Hello",), ("O",)),
]


def reject_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ----------------------------------------------------------------------------- good files


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("train.conll", TRAIN_CONLL),  # word POS chunk NER, -DOCSTART-, ends with a blank line
        ("words.txt", WORDS_TXT),  # word<TAB>tag, no blank line (nor newline) at the end
        ("sample.jsonl", SAMPLE_JSONL),  # a blank line skipped, an extra key ignored
    ],
)
def test_fixture_files_read_to_sentences(name: str, expected: list[Sentence]) -> None:
    data = read_tagged(FIXTURES / name)
    assert data == TaggedData(tuple(expected), 0, None)


@pytest.mark.parametrize("name", ["train.conll", "words.txt", "sample.jsonl"])
def test_crlf_and_bom_read_the_same(name: str, tmp_path: Path) -> None:
    original = (FIXTURES / name).read_bytes()
    converted = tmp_path / name
    converted.write_bytes(b"\xef\xbb\xbf" + original.replace(b"\n", b"\r\n"))
    assert read_tagged(converted).sentences == read_tagged(FIXTURES / name).sentences


@pytest.mark.parametrize(
    ("suffix", "text", "expected"),
    [
        ("", "a O\nb B-X", [Sentence(1, ("a", "b"), ("O", "B-X"))]),  # no suffix: CoNLL
        (".iob", "a O\n\n\n\nb O\n", [Sentence(1, ("a",), ("O",)), Sentence(5, ("b",), ("O",))]),
        (".tsv", "a\tNN\tO\n  \nb\tNN\tI-X\n", [Sentence(1, ("a",), ("O",)), Sentence(3, ("b",), ("I-X",))]),
        # a document marker right after a token line still separates the sentences
        (".conll", "a O\n-DOCSTART- O\nb O\n", [Sentence(1, ("a",), ("O",)), Sentence(3, ("b",), ("O",))]),
        (".NDJSON", '{"tokens": ["x"], "tags": ["B-Y"]}', [Sentence(1, ("x",), ("B-Y",))]),
        (".conll", "", []),
        (".jsonl", "\n\n", []),
    ],
)
def test_formats_and_separators(suffix: str, text: str, expected: list[Sentence], tmp_path: Path) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_text(text, encoding="utf-8")
    assert list(read_tagged(path).sentences) == expected


# ----------------------------------------------------------------------------- bad input

GOOD_JSON = '{"tokens": ["ok"], "tags": ["O"]}\n'

BAD_INPUT = [
    # (suffix, content, line of the fault, what the message says)
    (".jsonl", GOOD_JSON + '{"tokens": ["a"], "tags": ["O"]\n', 2, "malformed JSON"),
    (".jsonl", GOOD_JSON + '\n["a", "O"]\n', 3, "expected a JSON object per line, got an array"),
    (".jsonl", '{"tags": ["O"]}\n', 1, "field `tokens`: missing"),
    (".jsonl", GOOD_JSON + '{"tokens": ["a"]}\n', 2, "field `tags`: missing"),
    (
        ".jsonl",
        '{"tokens": "a b", "tags": ["O", "O"]}\n',
        1,
        "field `tokens`: expected an array of strings, got a string",
    ),
    (".jsonl", '{"tokens": ["a", 3], "tags": ["O", "O"]}\n', 1, "field `tokens`: token 2 is a number, not a string"),
    (".jsonl", '{"tokens": ["a", "b"], "tags": ["O", null]}\n', 1, "field `tags`: tag 2 is null, not a string"),
    (".jsonl", '{"tokens": ["a", " "], "tags": ["O", "O"]}\n', 1, "field `tokens`: token 2 is blank"),
    (".jsonl", GOOD_JSON * 3 + '{"tokens": ["a", "b"], "tags": ["O"]}\n', 4, "field `tags`: 1 tags for 2 tokens"),
    (".jsonl", '{"tokens": [], "tags": []}\n', 1, "field `tokens`: empty"),
    (".jsonl", '{"tokens": ["Bob"], "tags": ["PER"]}\n', 1, "field `tags`: tag 1: `PER` is not a BIO tag"),
    (".jsonl", '{"tokens": ["Bob"], "tags": ["B-"]}\n', 1, "`B-` is not a BIO tag"),
    (".jsonl", GOOD_JSON.encode() + b'{"tokens": ["caf\xe9"], "tags": ["O"]}\n', 2, "not valid UTF-8"),
    (".conll", "a O\nb O\n\nc O\nd\n", 5, "field `tag`: missing: the line has one column (`d`)"),
    (".txt", "-DOCSTART- O\n\na O\nb B-PER\nc I_PER\n", 5, "field `tag`: `I_PER` is not a BIO tag"),
    (".conll", "a x B-\n", 1, "`B-` is not a BIO tag"),
    ("", "a O\r\nb O\r\n\r\nc o\r\n", 4, "`o` is not a BIO tag"),
    (".iob", b"a O\n\nb O\ncaf\xe9 O\n", 4, "not valid UTF-8"),
]


@pytest.mark.parametrize(("suffix", "content", "line", "fragment"), BAD_INPUT)
def test_bad_input_is_e405_at_its_line(
    suffix: str, content: str | bytes, line: int, fragment: str, tmp_path: Path
) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(DiagnosticError) as info:
        read_tagged(path)
    (diag,) = info.value.diagnostics
    shown = display_path(path)
    assert diag.code == "E405"
    assert diag.message.startswith(f"{shown}:{line}: "), diag.message
    assert fragment in diag.message
    assert diag.span is not None and (diag.span.file, diag.span.line) == (shown, line)
    assert diag.hint is not None and "skip_bad" in diag.hint


@pytest.mark.parametrize(("make", "fragment"), [(None, "file not found"), ("dir", "is a folder")])
def test_missing_file_or_folder_is_e405(make: str | None, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "data.conll"
    if make == "dir":
        path.mkdir()
    rejects = tmp_path / "rejects.jsonl"
    with pytest.raises(DiagnosticError) as info:
        read_tagged(path, skip_bad=True, rejects=rejects)
    diag = info.value.diagnostics[0]
    assert diag.code == "E405"
    assert diag.message.startswith(f"{display_path(path)}: {fragment}"), diag.message
    assert not rejects.exists()  # the read did not complete: nothing written


# ----------------------------------------------------------------------------- skip_bad and rejects


@pytest.mark.parametrize(
    ("name", "good_rows", "rejects"),
    [
        (
            "bad.conll",
            [1, 9],
            [
                {"row": 4, "field": "tag", "original": "Bob\nsings O"},
                {"row": 7, "field": "tag", "original": "Carol X-PER"},
            ],
        ),
        (
            "bad.jsonl",
            [1, 3],
            [
                {"row": 2, "field": None, "original": '{"tokens": ["oops"], "tags": ["O"]'},
                {"row": 4, "field": "tags", "original": {"tokens": ["two", "words"], "tags": ["O"]}},
            ],
        ),
    ],
)
def test_skip_bad_writes_rejects(
    name: str, good_rows: list[int], rejects: list[dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "out" / "rejects.jsonl"  # the folder is made
    data = read_tagged(FIXTURES / name, skip_bad=True, rejects=out)
    assert [s.row for s in data.sentences] == good_rows
    assert (data.rejected, data.rejects) == (len(rejects), out)
    written = reject_records(out)
    assert [{k: r[k] for k in ("row", "field", "original")} for r in written] == rejects
    assert all(set(r) == {"row", "field", "reason", "original"} and r["reason"] for r in written)
    assert sorted(p.name for p in out.parent.iterdir()) == ["rejects.jsonl"]  # no temporary file left


def test_skip_bad_on_a_clean_file_writes_an_empty_rejects_file(tmp_path: Path) -> None:
    out = tmp_path / "rejects.jsonl"
    out.write_text("stale\n", encoding="utf-8")
    data = read_tagged(FIXTURES / "train.conll", skip_bad=True, rejects=out)
    assert (len(data.sentences), data.rejected, data.rejects) == (3, 0, out)
    assert out.read_text(encoding="utf-8") == ""


def test_without_skip_bad_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "rejects.jsonl"
    with pytest.raises(DiagnosticError):
        read_tagged(FIXTURES / "bad.conll", rejects=out)
    assert list(tmp_path.iterdir()) == []
    data = read_tagged(FIXTURES / "train.conll", rejects=out)
    assert data.rejects is None and list(tmp_path.iterdir()) == []


def test_skip_bad_needs_a_rejects_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rejects"):
        read_tagged(FIXTURES / "bad.conll", skip_bad=True)
    source = tmp_path / "data.conll"
    source.write_text("a O\n", encoding="utf-8")
    with pytest.raises(ValueError, match="input file"):
        read_tagged(source, skip_bad=True, rejects=source)
    assert source.read_text(encoding="utf-8") == "a O\n"


# ----------------------------------------------------------------------------- limit


@pytest.mark.parametrize(
    ("name", "limit", "rows", "rejected"),
    [
        ("train.conll", 2, [3, 8], 0),
        ("train.conll", 3, [3, 8, 16], 0),
        ("train.conll", 10, [3, 8, 16], 0),
        ("train.conll", 0, [], 0),
        ("bad.conll", 1, [1], 0),  # stops before the bad sentences
        ("bad.conll", 2, [1, 9], 2),  # the bad ones read on the way are counted
        ("bad.jsonl", 2, [1, 3], 1),
    ],
)
def test_limit_counts_good_sentences(name: str, limit: int, rows: list[int], rejected: int, tmp_path: Path) -> None:
    data = read_tagged(FIXTURES / name, skip_bad=True, rejects=tmp_path / "r.jsonl", limit=limit)
    assert [s.row for s in data.sentences] == rows
    assert data.rejected == rejected
    assert len(reject_records(tmp_path / "r.jsonl")) == rejected


def test_limit_stops_before_a_later_bad_sentence() -> None:
    assert [s.row for s in read_tagged(FIXTURES / "bad.conll", limit=1).sentences] == [1]
    with pytest.raises(DiagnosticError):
        read_tagged(FIXTURES / "bad.conll", limit=2)
    with pytest.raises(ValueError, match="limit"):
        read_tagged(FIXTURES / "train.conll", limit=-1)


# ----------------------------------------------------------------------------- label set


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([], ("O",)),
        ([("O", "O")], ("O",)),
        ([("B-PER", "O"), ("I-ORG",), ("B-LOC", "I-LOC")], ("O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER")),
        ([("I-misc",), ("B-MISC",)], ("O", "B-MISC", "I-MISC", "B-misc", "I-misc")),  # sorted by code point
    ],
)
def test_label_list(tags: list[tuple[str, ...]], expected: tuple[str, ...]) -> None:
    sentences = [Sentence(i, tuple("w" * len(t)), t) for i, t in enumerate(tags, start=1)]
    assert label_list(sentences) == expected
    assert label_list(reversed(sentences)) == expected  # order of the data does not matter


def test_label_list_of_the_fixture_and_a_bad_tag() -> None:
    assert label_list(read_tagged(FIXTURES / "train.conll").sentences) == (
        "O",
        *("B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"),
    )
    with pytest.raises(ValueError, match="line 4"):
        label_list([Sentence(4, ("x",), ("PER",))])


# ----------------------------------------------------------------------------- sub-token alignment


@pytest.fixture(scope="module")
def tokenizer(bert_dir: str) -> Any:
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(bert_dir)


LABELS = ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
IDS = {label: i for i, label in enumerate(LABELS)}


def pieces(tokenizer: Any, word: str) -> int:
    return len(tokenizer.tokenize(word))


def test_first_subtoken_carries_the_tag(tokenizer: Any) -> None:
    # the tiny vocabulary has "great" and "rain" but spells "Paris" and "London" in pieces
    n_paris, n_london = pieces(tokenizer, "Paris"), pieces(tokenizer, "London")
    assert n_paris > 2 and n_london > 2 and pieces(tokenizer, "great") == pieces(tokenizer, "rain") == 1
    sentences = [
        Sentence(1, ("Paris", "great", "rain"), ("B-LOC", "O", "O")),
        Sentence(2, ("rain", "London"), ("O", "I-LOC")),
    ]
    first, second = align(tokenizer, sentences, IDS, max_length=64)
    assert set(first) == {"input_ids", "attention_mask", "labels", "word_ids"}
    assert first["word_ids"] == [-1, *[0] * n_paris, 1, 2, -1]
    assert first["labels"] == [IGNORE, IDS["B-LOC"], *[IGNORE] * (n_paris - 1), IDS["O"], IDS["O"], IGNORE]
    assert second["word_ids"] == [-1, 0, *[1] * n_london, -1]
    assert second["labels"] == [IGNORE, IDS["O"], IDS["I-LOC"], *[IGNORE] * (n_london - 1), IGNORE]
    expected_ids = tokenizer([["Paris", "great", "rain"]], is_split_into_words=True)["input_ids"][0]
    assert first["input_ids"] == expected_ids
    assert tokenizer.convert_ids_to_tokens(first["input_ids"])[0] == tokenizer.cls_token
    assert first["attention_mask"] == [1] * len(first["input_ids"])


def test_truncation_and_unknown_tags(tokenizer: Any) -> None:
    n_paris = pieces(tokenizer, "Paris")
    sentence = Sentence(1, ("Paris", "great", "rain"), ("B-LOC", "B-MISC", "O"))  # MISC: not in the label set
    (cut,) = align(tokenizer, [sentence], IDS, max_length=4)
    assert cut["word_ids"] == [-1, 0, 0, -1]  # two pieces of Paris survive, then the closing special token
    assert cut["labels"] == [IGNORE, IDS["B-LOC"], IGNORE, IGNORE]
    assert len(cut["input_ids"]) == len(cut["attention_mask"]) == 4
    (whole,) = align(tokenizer, [sentence], IDS, max_length=64)
    assert whole["labels"][1 + n_paris] == IGNORE  # the unknown tag is ignored, not taught as O
    assert whole["labels"][2 + n_paris] == IDS["O"]


def test_align_needs_a_fast_tokenizer() -> None:
    class Slow:
        is_fast = False

    for tok in (Slow(), object()):
        with pytest.raises(TypeError, match="fast tokenizer"):
            align(tok, [Sentence(1, ("a",), ("O",))], IDS, 8)


def test_align_nothing(tokenizer: Any) -> None:
    assert align(tokenizer, [], IDS, 8) == []


def test_predictions_map_back_to_words(tokenizer: Any) -> None:
    sentences = read_tagged(FIXTURES / "sample.jsonl").sentences
    label_ids = {label: i for i, label in enumerate(label_list(sentences))}
    names = list(label_ids)
    for sentence, row in zip(sentences, align(tokenizer, sentences, label_ids, 64), strict=True):
        # a model that is right on first pieces and says I-PER elsewhere, with padding after the end
        junk = label_ids["I-PER"]
        predictions = [junk if label == IGNORE else label for label in row["labels"]] + [junk] * 3
        words = words_from_tokens(row["word_ids"], predictions, len(sentence.tokens), names)
        assert words == list(sentence.tags)
        assert repair_bio(words) == words


# ----------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    ("word_ids", "predictions", "n_words", "expected"),
    [
        ([-1, 0, 0, 1, 2, -1], [0, 1, 2, 0, 2, 0], 3, ["B-PER", "O", "I-PER"]),
        ([-1, 0, 0, 1, -1], [2, 1, 1, 0, 2, 2, 2], 4, ["B-PER", "O", "O", "O"]),  # words 2, 3 cut; padding
        ([-1, -1], [1, 1], 2, ["O", "O"]),
        ([], [], 0, []),
    ],
)
def test_words_from_tokens(word_ids: list[int], predictions: list[int], n_words: int, expected: list[str]) -> None:
    assert words_from_tokens(word_ids, predictions, n_words, ("O", "B-PER", "I-PER")) == expected


def test_words_from_tokens_needs_a_prediction_per_token() -> None:
    with pytest.raises(ValueError, match="2 predictions for 3 tokens"):
        words_from_tokens([-1, 0, -1], [0, 0], 1, ("O",))


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([], []),
        (["O", "B-PER", "I-PER", "O"], ["O", "B-PER", "I-PER", "O"]),
        (["I-PER", "I-PER"], ["B-PER", "I-PER"]),
        (["O", "I-LOC", "O", "I-LOC"], ["O", "B-LOC", "O", "B-LOC"]),
        (["B-PER", "I-LOC", "I-LOC"], ["B-PER", "B-LOC", "I-LOC"]),
        (["B-ORG", "I-ORG", "I-PER", "B-ORG"], ["B-ORG", "I-ORG", "B-PER", "B-ORG"]),
    ],
)
def test_repair_bio(tags: list[str], expected: list[str]) -> None:
    assert repair_bio(tags) == expected
    assert repair_bio(expected) == expected


# ----------------------------------------------------------------------------- import cost


def test_module_imports_without_the_training_stack() -> None:
    script = (
        "import sys, langgpt.runtime.ner\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'datasets')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"
