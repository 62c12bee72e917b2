"""The dataset target (``langgpt.targets.dataset``) and the fast row renderer (``langgpt.rows``).

Rows of a data file become ``row, prompt, target, label`` records (plus token fields with a model);
bad rows stop the run with E405 naming file, row and field, or go to a rejects file; writes are
atomic and deterministic; shots drawn from the rendered file never contain the row itself; and the
compiled row renderer gives exactly the interpreter's text.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers import example_files, vars_for

import langgpt
from langgpt import DiagnosticError, UsageError
from langgpt.data import read_rows, select
from langgpt.rows import RowError, _replace, compile_template
from langgpt.targets.dataset import compile_dataset

FIXTURES = Path("tests/fixtures/dataset")
REVIEWS = FIXTURES / "reviews.jsonl"
SENTIMENT = "prompts/sentiment.lgpt"
SHOTS_FILE = Path("prompts/data/sentiment_shots.jsonl")
KEYS = ["row", "prompt", "target", "label"]


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def review_rows() -> list[dict[str, Any]]:
    return records(REVIEWS)


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_delimited(path: Path, rows: list[dict[str, Any]], delimiter: str) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(["id", "sentence", "label"])
        for row in rows:
            writer.writerow([row["id"], row["sentence"], row["label"]])
    return path


def build(data: Path, output: Path, **kwargs: Any) -> Any:
    kwargs.setdefault("entry", "classify_text")
    return compile_dataset(SENTIMENT, data=data, output=output, progress=False, **kwargs)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp"))


# ----------------------------------------------------------------------------- tiny models


@pytest.fixture(scope="module")
def gpt2(gpt2_dir: str) -> Path:
    return Path(gpt2_dir)


@pytest.fixture(scope="module")
def bert(bert_dir: str) -> Path:
    return Path(bert_dir)


def tokenizer(folder: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


# ----------------------------------------------------------------------------- records


def test_rows_fields_and_values(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = build(REVIEWS, out)
    got = records(out)
    assert result.rows == len(got) == 20 and result.rejected == 0 and result.rejects is None
    assert result.entry == "classify_text" and result.model_kind is None
    program = langgpt.load(SENTIMENT)
    for number, (source, rec) in enumerate(zip(review_rows(), got, strict=True), start=1):
        assert list(rec) == KEYS
        assert rec["row"] == number  # the line of the JSONL file
        expected = langgpt.compile(program, "text", {"sentence": source["sentence"]}, entry="classify_text")
        assert rec["prompt"] == expected.output
        assert rec["prompt"].endswith(f"Review: {source['sentence']}\nSentiment:")
        label = source["label"] if isinstance(source["label"], int) else ["negative", "positive"].index(source["label"])
        assert rec["label"] == label
        assert rec["target"] == ("terrible", "great")[label]  # the first verbalizer word
    assert "🙂" in out.read_text(encoding="utf-8")  # ensure_ascii=False


def test_default_entry_is_the_first_template(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = compile_dataset(SENTIMENT, data=REVIEWS, output=out, progress=False)
    assert result.entry == "classify"  # a chat template: prompt = the text target's messages
    program = langgpt.load(SENTIMENT)
    first = records(out)[0]
    assert first["prompt"] == langgpt.compile(program, "text", {"sentence": review_rows()[0]["sentence"]}).output
    assert first["target"] == "great"


def test_label_by_index_or_name_from_every_format(tmp_path: Path) -> None:
    rows = review_rows()
    by_name = [
        {**r, "label": ["negative", "positive"][r["label"]] if isinstance(r["label"], int) else r["label"]}
        for r in rows
    ]
    by_index = [{**r, "label": ["negative", "positive"].index(n["label"])} for r, n in zip(rows, by_name, strict=True)]
    outputs = []
    for name, data in [
        ("names.jsonl", write_jsonl(tmp_path / "names.jsonl", by_name)),
        ("index.jsonl", write_jsonl(tmp_path / "index.jsonl", by_index)),
        ("rows.csv", write_delimited(tmp_path / "rows.csv", by_index, ",")),
        ("rows.tsv", write_delimited(tmp_path / "rows.tsv", by_name, "\t")),
    ]:
        out = tmp_path / f"{name}.out.jsonl"
        build(data, out)
        outputs.append([{k: v for k, v in r.items() if k != "row"} for r in records(out)])
    assert all(o == outputs[0] for o in outputs[1:])
    # CSV/TSV rows are numbered like the error messages number them: the header is row 1
    assert [r["row"] for r in records(tmp_path / "rows.csv.out.jsonl")][:3] == [2, 3, 4]


def test_non_label_answer_and_fixed_variables(tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "weather.jsonl",
        [{"condition": "fog", "temperature": 4, "wind": "calm", "description": "Foggy and cold at 4 °C."}],
    )
    out = tmp_path / "out.jsonl"
    compile_dataset("prompts/weather.lgpt", data=data, output=out, progress=False, variables={"audience": "pilots"})
    (rec,) = records(out)
    assert rec["target"] == "Foggy and cold at 4 °C." and rec["label"] is None
    assert rec["prompt"].endswith("Temperature: 4 °C\nWind: calm\nDescription:")
    # a row's own field wins over a fixed variable; a fixed variable must be declared and fit its type
    with pytest.raises(DiagnosticError) as err:
        compile_dataset("prompts/weather.lgpt", data=data, output=out, progress=False, variables={"nope": 1})
    assert err.value.diagnostics[0].code == "E118"
    program = langgpt.load("prompts/sentiment.lgpt")
    plan = compile_template(program, "classify", variables={"lang": "German"})
    assert "reads German reviews" in plan.prompt({"sentence": "gut"})
    assert "reads French reviews" in plan.prompt({"sentence": "bon", "lang": "French"})


# ----------------------------------------------------------------------------- tokenized fields


def test_causal_labels_mask_exactly_the_prompt(tmp_path: Path, gpt2: Path) -> None:
    tok = tokenizer(gpt2)
    for entry, gap in (("classify_text", " "), ("classify", "\n\n")):
        out = tmp_path / f"{entry}.jsonl"
        result = build(REVIEWS, out, entry=entry, model=str(gpt2))
        assert result.model_kind == "causal"
        for rec in records(out):
            assert list(rec) == [*KEYS, "input_ids", "attention_mask", "labels"]
            ids, labels = rec["input_ids"], rec["labels"]
            # the text the model sees: prompt, the separator the template has before the answer, target, EOS
            assert ids == tok(rec["prompt"] + gap + rec["target"])["input_ids"] + [tok.eos_token_id]
            prompt_len = len(tok(rec["prompt"])["input_ids"])
            assert labels[:prompt_len] == [-100] * prompt_len
            assert -100 not in labels[prompt_len:]
            assert labels[prompt_len:] == ids[prompt_len:] and labels[-1] == tok.eos_token_id
            assert rec["attention_mask"] == [1] * len(ids)


def test_masked_positions_point_at_the_mask(tmp_path: Path, bert: Path) -> None:
    tok = tokenizer(bert)
    rows = [*review_rows()[:5], {"sentence": "a [MASK] in the review text itself", "label": 1}]
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    out = tmp_path / "out.jsonl"
    result = build(data, out, model=str(bert))
    assert result.model_kind == "masked"
    for rec in records(out):
        assert list(rec) == [*KEYS, "input_ids", "attention_mask", "mask_positions"]
        ids = rec["input_ids"]
        assert ids == tok(rec["prompt"] + " " + tok.mask_token)["input_ids"]
        (position,) = rec["mask_positions"]  # one slot, even where the row spells [MASK] itself
        assert ids[position] == tok.mask_token_id
        assert ids[position + 1] == tok.sep_token_id  # the slot ends the prompt
        assert rec["label"] in (0, 1)


def test_tokenizer_object_and_kind(tmp_path: Path, bert: Path) -> None:
    out_a, out_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    build(REVIEWS, out_a, model=str(bert))
    build(REVIEWS, out_b, tokenizer=tokenizer(bert), kind="masked")
    assert out_a.read_bytes() == out_b.read_bytes()
    with pytest.raises(UsageError):
        build(REVIEWS, out_b, tokenizer=tokenizer(bert))  # no kind and no model to read it from


def test_seq2seq_fields(tmp_path: Path, bert: Path) -> None:
    tok = tokenizer(bert)
    out = tmp_path / "out.jsonl"
    build(REVIEWS, out, tokenizer=tok, kind="seq2seq")
    for rec in records(out)[:3]:
        assert rec["input_ids"] == tok(rec["prompt"])["input_ids"]
        assert rec["labels"] == tok(text_target=rec["target"])["input_ids"]


def test_jsonl_and_hf_folder_hold_the_same_records(tmp_path: Path, gpt2: Path) -> None:
    import datasets

    build(REVIEWS, tmp_path / "out.jsonl", model=str(gpt2))
    build(REVIEWS, tmp_path / "out_hf", model=str(gpt2), output_format="hf")
    ds = datasets.load_from_disk(str(tmp_path / "out_hf"))
    assert ds.column_names == [*KEYS, "input_ids", "attention_mask", "labels"]
    assert [dict(r) for r in ds] == records(tmp_path / "out.jsonl")
    assert leftovers(tmp_path) == []


def test_hf_folder_input(tmp_path: Path) -> None:
    import datasets

    rows = review_rows()
    ds = datasets.Dataset.from_list(
        [{"sentence": r["sentence"], "label": str(r["label"]), "id": r["id"]} for r in rows]
    )
    ds.save_to_disk(str(tmp_path / "in_hf"))
    build(tmp_path / "in_hf", tmp_path / "a.jsonl")
    build(REVIEWS, tmp_path / "b.jsonl")
    assert records(tmp_path / "a.jsonl") == records(tmp_path / "b.jsonl")  # rows numbered 1.. in both


# ----------------------------------------------------------------------------- determinism and atomicity


def test_same_inputs_same_bytes(tmp_path: Path, bert: Path) -> None:
    for name in ("a", "b"):
        build(REVIEWS, tmp_path / f"{name}.jsonl", model=str(bert))
        build(REVIEWS, tmp_path / f"{name}_hf", model=str(bert), output_format="hf")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    files = sorted(p.name for p in (tmp_path / "a_hf").iterdir())
    assert "state.json" in files
    for name in files:
        assert (tmp_path / "a_hf" / name).read_bytes() == (tmp_path / "b_hf" / name).read_bytes(), name


def snapshot(path: Path) -> list[tuple[str, bytes]]:
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return [(p.name, p.read_bytes()) for p in files]


@pytest.mark.parametrize("output_format", ["jsonl", "hf"])
def test_an_error_leaves_no_output_and_no_temp_file(tmp_path: Path, output_format: str) -> None:
    rows = [*review_rows()] * 60  # > one chunk, so part of the output was written before the error
    rows.append({"sentence": "fine", "label": "neutral"})
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(DiagnosticError):
        build(data, out_dir / "data", output_format=output_format)
    assert list(out_dir.iterdir()) == []
    # an existing output stays as it was
    build(REVIEWS, out_dir / "data", output_format=output_format)
    before = snapshot(out_dir / "data")
    with pytest.raises(DiagnosticError):
        build(data, out_dir / "data", output_format=output_format)
    assert snapshot(out_dir / "data") == before
    assert [p.name for p in out_dir.iterdir()] == ["data"]


# ----------------------------------------------------------------------------- bad rows

GOOD = {"sentence": "Works as described.", "label": "positive"}

BAD_ROWS: list[tuple[str, Any, str | None, str]] = [
    # (case, the line as written, the field named, words in the reason)
    ("malformed JSON", '{"sentence": "broken", "label": 1', None, "malformed JSON"),
    ("not an object", "[1, 2]", None, "expected a JSON object per line, got list"),
    ("missing field", {"label": "positive"}, "sentence", "missing field"),
    (
        "unknown label",
        {"sentence": "meh", "label": "neutral"},
        "label",
        'unknown label "neutral" (expected negative, positive or 0..1)',
    ),
    ("label out of range", {"sentence": "meh", "label": 2}, "label", "unknown label 2"),
    ("empty text", {"sentence": "   ", "label": 0}, "sentence", "empty text"),
    ("wrong type", {"sentence": 5, "label": 0}, "sentence", "expected text (a string), got int 5"),
    ("missing label", {"sentence": "no label here"}, "label", "missing field"),
]


def bad_file(tmp_path: Path, line: Any) -> Path:
    text = line if isinstance(line, str) else json.dumps(line)
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + json.dumps(GOOD) + "\n" + text + "\n" + json.dumps(GOOD) + "\n")
    return path  # the bad row is line 4 (line 2 is blank)


@pytest.mark.parametrize(("case", "line", "field", "reason"), BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
def test_bad_row_is_an_error_naming_file_row_and_field(
    tmp_path: Path, case: str, line: Any, field: str | None, reason: str
) -> None:
    data = bad_file(tmp_path, line)
    with pytest.raises(DiagnosticError) as err:
        build(data, tmp_path / "out.jsonl")
    (diag,) = err.value.diagnostics
    assert diag.code == "E405"
    shown = langgpt.loader.display_path(data)
    prefix = f"{shown}:4: field `{field}`: " if field else f"{shown}:4: "
    assert diag.message.startswith(prefix), diag.message
    assert reason in diag.message
    assert diag.span is not None and diag.span.line == 4
    assert not (tmp_path / "out.jsonl").exists()


def test_skip_bad_writes_every_bad_row_to_the_rejects_file(tmp_path: Path) -> None:
    lines = [json.dumps(GOOD)]
    for _, line, _, _ in BAD_ROWS:
        lines += [line if isinstance(line, str) else json.dumps(line), json.dumps(GOOD)]
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    result = build(data, out, skip_bad=True)
    assert result.rows == len(BAD_ROWS) + 1 and result.rejected == len(BAD_ROWS)
    assert result.rejects == tmp_path / "out.jsonl.rejects.jsonl"
    assert f"{len(BAD_ROWS)} bad rows" in result.summary()
    rejects = records(result.rejects)
    assert [r["row"] for r in rejects] == list(range(2, 2 * len(BAD_ROWS) + 1, 2))
    assert [r["row"] for r in records(out)] == list(range(1, 2 * len(BAD_ROWS) + 2, 2))
    for reject, (case, line, field, reason) in zip(rejects, BAD_ROWS, strict=True):
        assert list(reject) == ["row", "field", "reason", "original"]
        assert reject["field"] == field and reason in reject["reason"]
        # the row as it was: the parsed line, or its raw text when it does not parse
        original = json.loads(line) if case == "not an object" else line
        assert reject["original"] == original
    # a chosen rejects path; no bad rows -> an empty rejects file (nothing stale left behind)
    chosen = tmp_path / "bad.jsonl"
    result = build(REVIEWS, out, skip_bad=True, rejects=chosen)
    assert result.rejected == 0 and chosen.read_text() == ""


def test_csv_bad_rows(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_bytes(b'sentence,label\nfine,1\n"too,many",1,extra\nok,negative\nbad bytes \xff,0\nnope,2\n')
    result = build(data, tmp_path / "out.jsonl", skip_bad=True)
    assert result.rows == 2
    reasons = {r["row"]: r["reason"] for r in records(tmp_path / "out.jsonl.rejects.jsonl")}
    assert reasons == {
        3: "3 fields where the header has 2",
        5: "not valid UTF-8",
        6: 'unknown label "2" (expected negative, positive or 0..1)',
    }


def test_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        build(REVIEWS, tmp_path / "o", output_format="parquet")
    with pytest.raises(UsageError):
        build(REVIEWS, tmp_path / "o.jsonl", entry="SentimentAnalyst")  # a role, not a template
    with pytest.raises(DiagnosticError) as err:
        build(tmp_path / "missing.jsonl", tmp_path / "o.jsonl")
    assert err.value.diagnostics[0].code == "E405" and "file not found" in err.value.diagnostics[0].message
    with pytest.raises(DiagnosticError):
        build(tmp_path / "rows.parquet", tmp_path / "o.jsonl")


# ----------------------------------------------------------------------------- shots never include the row


def shot_section(prompt: str) -> str:
    return prompt[: prompt.rindex("Review: ")]


@pytest.mark.parametrize("entry", ["with_balanced", "with_seeded", "with_first"])
def test_shots_from_the_rendered_file_exclude_the_row(tmp_path: Path, entry: str) -> None:
    program_path = FIXTURES / "shots.lgpt"
    out = tmp_path / "out.jsonl"
    compile_dataset(program_path, data=REVIEWS, output=out, entry=entry, progress=False)
    program = langgpt.load(program_path)
    default = langgpt.compile(program, "text", {"sentence": "x"}, entry=entry).output
    k = shot_section(default).count("Review: ")
    replaced = 0
    for source, rec in zip(review_rows(), records(out), strict=True):
        shots = shot_section(rec["prompt"])
        assert source["sentence"] not in shots
        assert shots.count("Review: ") == k  # a replacement keeps the number of shots
        if shots != shot_section(default):
            replaced += 1
        if entry == "with_balanced":
            assert Counter(shots.split("Sentiment: ")[i].split("\n")[0] for i in range(1, k + 1)) == {
                "negative": 2,
                "positive": 2,
            }
    assert replaced == k  # exactly the rows that were among the shots got other shots


def test_sentiment_pool_rendering_its_own_file(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    build(SHOTS_FILE, out)
    for source, rec in zip(read_rows(SHOTS_FILE), records(out), strict=True):
        assert source["sentence"] not in shot_section(rec["prompt"])


def test_replacement_is_deterministic_and_balanced() -> None:
    rows = [{"i": i, "g": "ab"[i % 2]} for i in range(10)]
    picks = [rows.index(r) for r in select(rows, 4, 3, "g")]
    for drop in picks:
        new = _replace(rows, picks, drop, 3, "g")
        assert drop not in new and len(new) == 4 and new == _replace(rows, picks, drop, 3, "g")
        assert Counter(rows[i]["g"] for i in new) == Counter(rows[i]["g"] for i in picks)
    assert _replace(rows, [0, 1], 0, None, None) == [2, 1]  # file order without a seed
    assert _replace(rows, [0, 1], 5, None, None) == [0, 1]


# ----------------------------------------------------------------------------- rows.py = the interpreter


@pytest.mark.parametrize("path", example_files())
def test_compiled_rows_match_the_interpreter_on_every_example(path: str) -> None:
    program = langgpt.load(path)
    templates = program.document.templates()
    values = vars_for(path)
    rng = random.Random(path)
    for template in templates:
        plan = compile_template(program, template.name)
        for i in range(40):
            row = dict(values)
            for name, value in values.items():
                if isinstance(value, str):
                    row[name] = f"{value} #{i} {rng.choice(['', '{x}', 'ü', '<Rules>', ' trailing  '])}".strip()
                elif isinstance(value, int) and not isinstance(value, bool):
                    row[name] = rng.randint(-20, 40)
                elif isinstance(value, list):
                    row[name] = rng.sample(value, rng.randint(1, len(value)))
            if any(v.name == "label" and v.type.name == "label" for v in program.document.variables()):
                row["label"] = rng.choice(["negative", "positive", 0, 1])
            for answer in (None, "ANSWER TEXT"):
                expected = langgpt.compile(program, "text", row, entry=template.name, answer=answer).output
                assert plan.prompt(row, answer=answer) == expected


def random_row(rng: random.Random) -> dict[str, Any]:
    row: dict[str, Any] = {
        "sentence": rng.choice(["plain", "brace {x} and <Rules>", "two\nlines", "ünïcode ✓", "  padded  "]),
        "label": rng.choice([0, 1, 2, "negative", "neutral", "positive", "2"]),
        "stars": rng.randint(-3, 9),
        "unused_field": "ignored",
    }
    optional = {
        "lang": lambda: rng.choice(["English", "German"]),
        "strict": lambda: rng.random() < 0.5,
        "score": lambda: rng.choice([0.1, 0.7, 0.71, 2, 1e16]),
        "count": lambda: rng.randint(0, 5),
        "tags": lambda: rng.choice([[], ["x"], ["y", "z", "w"]]),
    }
    for name, make in optional.items():
        if rng.random() < 0.6:
            row[name] = make()
    return row


@pytest.mark.parametrize("entry", ["full", "middle", "chat"])
def test_compiled_rows_match_the_interpreter_on_every_construct(entry: str) -> None:
    program = langgpt.load(FIXTURES / "constructs.lgpt")
    assert not [d for d in langgpt.check(program) if d.is_error]
    plan = compile_template(program, entry)
    rng = random.Random(entry)
    for _ in range(250):
        row = random_row(rng)
        values = {k: v for k, v in row.items() if k != "unused_field"}
        for answer in (None, "ANS"):
            expected = langgpt.compile(program, "text", values, entry=entry, answer=answer).output
            assert plan.prompt(row, answer=answer) == expected, row


def test_row_values_are_checked() -> None:
    program = langgpt.load(FIXTURES / "constructs.lgpt")
    plan = compile_template(program, "full")
    good = {"sentence": "s", "label": 1, "stars": 2}
    assert plan.values(good)["label"] == "neutral"
    assert plan.values({**good, "label": "2"})["label"] == "positive"
    assert plan.values({**good, "stars": "7", "tags": "a, b"}, strings=True)["tags"] == ["a", "b"]
    cases = [
        ({**good, "label": "happy"}, "label", 'unknown label "happy" (expected negative, neutral, positive or 0..2)'),
        ({**good, "label": True}, "label", "unknown label true (expected negative, neutral, positive or 0..2)"),
        ({**good, "stars": "7"}, "stars", 'expected int, got text "7"'),  # JSON: a string is not an int
        ({**good, "score": "high"}, "score", 'expected float, got text "high"'),
        ({**good, "tags": [1]}, "tags", "expected text (a string), got int 1"),
        ({**good, "sentence": ""}, "sentence", "empty text"),
    ]
    for row, field, reason in cases:
        with pytest.raises(RowError) as err:
            plan.values(row)
        assert err.value.field == field and err.value.reason == reason
    with pytest.raises(RowError) as err:
        plan.render(plan.values({"sentence": "s", "label": 0}))
    assert err.value.field == "stars" and "missing" in err.value.reason
    assert compile_template(program, "full", allow_empty_text=True).values({**good, "sentence": ""})["sentence"] == ""
