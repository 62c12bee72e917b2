"""Evaluation: inheritance, conditionals and loops, few-shot selection, the answer slot, chat templates
and label values."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import langgpt
from langgpt import DiagnosticError


def compile_src(
    source: str,
    variables: dict[str, object] | None = None,
    *,
    target: str = "text",
    entry: str | None = None,
    answer: str | None = None,
) -> str:
    program = langgpt.parse(source, "t.lgpt")
    errors = [d for d in langgpt.check(program) if d.is_error]
    assert not errors, errors
    return langgpt.compile(program, target, variables, entry=entry, answer=answer).output


def sections(markdown: str) -> dict[str, str]:
    """``## Title`` -> body, in order."""
    out: dict[str, str] = {}
    for block in markdown.split("\n## ")[1:]:
        title, _, body = block.partition("\n")
        out[title] = body.strip("\n")
    return out


# ----------------------------------------------------------------------------- inheritance

BASE = """lgpt 1
var lang: text = "German"
role Base "Base" {
  profile {
    author: X
    language: English
  }
  rules {
    - r1
    - r2
  }
  workflow {
    1. a
  }
  initialization "As a <Role>, follow <Rules>."
}
"""


def test_child_overrides_appends_and_inserts_before_initialization() -> None:
    source = (
        BASE
        + """role Child "Child" extends Base {
  profile += {
    language: {lang}
    version: "2"
  }
  rules += {
    - r3
  }
  workflow {
    - b
    - c
  }
  goals {
    - g
  }
}
"""
    )
    out = compile_src(source, entry="Child")
    assert out.startswith("# Role: Child\n")
    got = sections(out)
    assert list(got) == ["Profile", "Rules", "Workflow", "Goals", "Initialization"]
    # `profile +=`: same key replaced in place, new key appended
    assert got["Profile"] == "- Author: X\n- Language: German\n- Version: 2"
    # `rules +=`: items appended after the inherited ones
    assert got["Rules"] == "- r1\n- r2\n- r3"
    # plain `workflow`: replaced
    assert got["Workflow"] == "1. b\n2. c"
    assert got["Goals"] == "- g"
    assert got["Initialization"] == "As a <Role>, follow <Rules>."


def test_base_is_unchanged_by_its_children() -> None:
    source = BASE + "role Child extends Base {\n  rules += {\n    - r3\n  }\n}\n"
    program = langgpt.parse(source, "t.lgpt")
    base = langgpt.compile(program, entry="Base").output
    assert sections(base)["Rules"] == "- r1\n- r2"
    assert "r3" not in base
    # the base compiled after the child (same program, fresh compile) is still unchanged
    langgpt.compile(program, entry="Child")
    assert langgpt.compile(program, entry="Base").output == base


def test_child_title_defaults_to_name_and_child_initialization_replaces() -> None:
    source = BASE + 'role Child extends Base {\n  initialization "Hello."\n}\n'
    got = compile_src(source, entry="Child")
    assert got.startswith("# Role: Child\n")
    assert sections(got)["Initialization"] == "Hello."
    assert list(sections(got))[-1] == "Initialization"


def test_new_section_appended_when_base_has_no_initialization() -> None:
    source = "role B {\n  rules {\n    - r\n  }\n}\nrole C extends B {\n  goals {\n    - g\n  }\n}\n"
    assert list(sections(compile_src(source, entry="C"))) == ["Rules", "Goals"]


def test_multi_level_inheritance() -> None:
    source = (
        'role A {\n  rules {\n    - a\n  }\n  initialization "init"\n}\n'
        "role B extends A {\n  rules += {\n    - b\n  }\n}\n"
        "role C extends B {\n  rules += {\n    - c\n  }\n  skills {\n    - s\n  }\n}\n"
    )
    got = sections(compile_src(source, entry="C"))
    assert got == {"Rules": "- a\n- b\n- c", "Skills": "- s", "Initialization": "init"}


def test_append_to_prose_section() -> None:
    source = 'role A {\n  background "one"\n}\nrole B extends A {\n  background += "two"\n}\n'
    assert sections(compile_src(source, entry="B"))["Background"] == "one\n\ntwo"


def test_inheritance_through_import(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "base.lgpt").write_text(
        'role Base {\n  rules {\n    - inherited\n  }\n  initialization "go"\n}\n', encoding="utf-8"
    )
    main = tmp_path / "main.lgpt"
    main.write_text('import "lib/base.lgpt" as lib\nrole R extends lib.Base {\n  rules += {\n    - own\n  }\n}\n')
    program = langgpt.load(main, root=tmp_path)
    assert langgpt.check(program) == []
    assert sections(langgpt.compile(program).output) == {"Rules": "- inherited\n- own", "Initialization": "go"}


# ----------------------------------------------------------------------------- conditionals and loops

COND = """lgpt 1
var mode: label {short, long, auto} = auto
var n: int = 3
var strict: bool = false
var xs: list[text] = ["a", "b"]
role R {
  if mode == "short" {
    goals {
      - be short
    }
  } elif mode == "long" {
    goals {
      - be long
    }
  } else {
    goals {
      - be auto
    }
  }
  rules {
    - base
    if n > 2 and not strict {
      - n big
    } elif strict {
      - strict
    } else {
      - other
    }
    for x in xs {
      - item {x}
        - nested {x}
    }
  }
  for x in xs {
    rules += {
      - appended {x}
    }
  }
  if strict {
    attention "careful"
  }
}
"""


@pytest.mark.parametrize(
    ("values", "goals", "rules", "attention"),
    [
        (
            {},
            "- be auto",
            "- base\n- n big\n- item a\n  - nested a\n- item b\n  - nested b\n- appended a\n- appended b",
            None,
        ),
        (
            {"mode": "short", "strict": True},
            "- be short",
            "- base\n- strict\n- item a\n  - nested a\n- item b\n  - nested b\n- appended a\n- appended b",
            "careful",
        ),
        ({"mode": "long", "n": 1, "xs": []}, "- be long", "- base\n- other", None),
        ({"mode": 0, "xs": ["z"]}, "- be short", "- base\n- n big\n- item z\n  - nested z\n- appended z", None),
    ],
)
def test_role_and_entry_level_conditions_and_loops(
    values: dict[str, object], goals: str, rules: str, attention: str | None
) -> None:
    got = sections(compile_src(COND, values))
    assert got["Goals"] == goals
    assert got["Rules"] == rules
    assert got.get("Attention") == attention


def test_unused_branches_are_still_checked() -> None:
    source = "var strict: bool = false\nrole A {\n  if strict {\n    rules {\n      - {missing}\n    }\n  }\n}\n"
    (diag,) = langgpt.check(langgpt.parse(source, "t.lgpt"))
    assert (diag.code, diag.span.line) == ("E101", 5)


def test_conditions_at_template_level() -> None:
    source = (
        'var formal: bool = true\nvar who: text = "you"\n'
        'template T "{if formal}Dear {who}{else}Hi {who}{end}, {answer}"\n'
    )
    assert compile_src(source) == "Dear you,"
    assert compile_src(source, {"formal": False}) == "Hi you,"
    assert compile_src(source, {"formal": False}, answer="ok") == "Hi you, ok"


# ----------------------------------------------------------------------------- few-shot selection from files

ROWS = [{"s": f"s{i:02d}", "label": "pos" if i % 3 == 0 else "neg"} for i in range(12)]


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def shots_program(
    tmp_path: Path, picks: str, rows: list[dict[str, object]] = ROWS, data: str = "d.jsonl"
) -> langgpt.Program:
    if data.endswith(".jsonl"):
        write_jsonl(tmp_path / data, rows)
    main = tmp_path / "p.lgpt"
    main.write_text(
        "lgpt 1\nvar s: text\nvar label: label {neg, pos}\n"
        f'examples pool from "{data}" {picks} {{\n  format: "{{s}}={{label}}"\n  separator: " | "\n}}\n'
        'template t "{pool} || {s} => {answer}"\n',
        encoding="utf-8",
    )
    return langgpt.load(main, root=tmp_path)


def picked(program: langgpt.Program) -> list[tuple[str, str]]:
    out = langgpt.compile(program, variables={"s": "q"}).output
    shots, _, rest = out.partition(" || ")
    assert rest == "q =>"
    return [tuple(shot.split("=")) for shot in shots.split(" | ")]  # type: ignore[misc]


def test_all_rows_in_file_order_without_pick(tmp_path: Path) -> None:
    assert picked(shots_program(tmp_path, "")) == [(r["s"], r["label"]) for r in ROWS]


def test_pick_without_seed_takes_the_first_k(tmp_path: Path) -> None:
    assert picked(shots_program(tmp_path, "pick 3")) == [("s00", "pos"), ("s01", "neg"), ("s02", "neg")]


def test_seeded_pick_is_deterministic(tmp_path: Path) -> None:
    first = picked(shots_program(tmp_path, "pick 5 seed 42"))
    again = picked(shots_program(tmp_path, "pick 5 seed 42"))
    assert first == again
    assert len(first) == len(set(first)) == 5
    assert set(first) <= {(r["s"], r["label"]) for r in ROWS}
    # some seed gives another sample (the seed is actually used)
    others = {tuple(picked(shots_program(tmp_path, f"pick 5 seed {seed}"))) for seed in range(5)}
    assert len(others) > 1


def test_balanced_pick_alternates_labels(tmp_path: Path) -> None:
    shots = picked(shots_program(tmp_path, "pick 4 balanced by label seed 7"))
    assert Counter(label for _, label in shots) == {"pos": 2, "neg": 2}
    # groups are visited in first-seen order (s00 is pos), one row from each in turn
    assert [label for _, label in shots] == ["pos", "neg", "pos", "neg"]
    assert shots == picked(shots_program(tmp_path, "pick 4 balanced by label seed 7"))


def test_balanced_pick_without_seed_keeps_file_order(tmp_path: Path) -> None:
    assert picked(shots_program(tmp_path, "pick 4 balanced by label")) == [
        ("s00", "pos"),
        ("s01", "neg"),
        ("s03", "pos"),
        ("s02", "neg"),
    ]


def test_balanced_pick_when_a_group_runs_out(tmp_path: Path) -> None:
    shots = picked(shots_program(tmp_path, "pick 10 balanced by label seed 1"))
    counts = Counter(label for _, label in shots)
    assert counts == {"pos": 4, "neg": 6}  # only 4 pos rows exist; the rest come from neg
    assert [label for _, label in shots[:8]] == ["pos", "neg"] * 4


def test_label_indexes_in_data_map_to_label_names(tmp_path: Path) -> None:
    rows = [{"s": "a", "label": 0}, {"s": "b", "label": 1}, {"s": "c", "label": "pos"}]
    assert picked(shots_program(tmp_path, "", rows)) == [("a", "neg"), ("b", "pos"), ("c", "pos")]


def test_csv_and_tsv_data(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text('s,label\nx1,0\n"y, 2",pos\n', encoding="utf-8")
    assert picked(shots_program(tmp_path, "", data="d.csv")) == [("x1", "neg"), ("y, 2", "pos")]
    (tmp_path / "d.tsv").write_text("s\tlabel\nt1\t1\n", encoding="utf-8")
    assert picked(shots_program(tmp_path, "", data="d.tsv")) == [("t1", "pos")]


def test_data_outside_the_root_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    write_jsonl(tmp_path / "outside.jsonl", ROWS)
    main = project / "p.lgpt"
    main.write_text(
        'var s: text\nexamples pool from "../outside.jsonl" {\n  format: "{s}"\n}\ntemplate t "{pool}"\n',
        encoding="utf-8",
    )
    (diag,) = [d for d in langgpt.check(langgpt.load(main, root=project)) if d.is_error]
    assert diag.code == "E115"
    assert "outside the project root" in diag.message


def test_data_rows_lacking_a_format_field(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "d.jsonl", [{"s": "a", "label": "pos"}, {"label": "neg"}])
    main = tmp_path / "p.lgpt"
    main.write_text(
        'var label: label {neg, pos}\nexamples pool from "d.jsonl" {\n  format: "{s}={label}"\n}\ntemplate t "{pool}"\n',
        encoding="utf-8",
    )
    program = langgpt.load(main, root=tmp_path)
    (diag,) = [d for d in langgpt.check(program) if d.is_error]
    assert diag.code == "E109"
    assert "row 2" in diag.message
    assert "`s`" in diag.message


def test_data_row_lacking_a_field_named_like_a_variable(tmp_path: Path) -> None:
    rows = [{"s": "a", "label": "pos"}, {"s": "b"}]
    program = shots_program(tmp_path, "", rows)
    problems = [d for d in langgpt.check(program) if d.is_error]
    assert [d.code for d in problems] == ["E109"]
    assert "row 2" in problems[0].message and "`label`" in problems[0].message


def test_data_row_lacking_a_field_does_not_leak_the_query_label(tmp_path: Path) -> None:
    """Compiling must refuse rather than show the query's gold label (`neg`) in the shot of row 2."""
    rows = [{"s": "a", "label": "pos"}, {"s": "b"}]
    program = shots_program(tmp_path, "", rows)
    with pytest.raises(DiagnosticError) as info:
        langgpt.compile(program, variables={"s": "q", "label": "neg"})
    assert any(d.code == "E109" for d in info.value.diagnostics)


def test_malformed_data_file(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"s": "a", "label": "pos"}\n{not json\n', encoding="utf-8")
    main = tmp_path / "p.lgpt"
    main.write_text('examples pool from "d.jsonl" {\n  format: "{s}"\n}\ntemplate t "{pool}"\n', encoding="utf-8")
    (diag,) = [d for d in langgpt.check(langgpt.load(main, root=tmp_path)) if d.is_error]
    assert diag.code == "E115"
    assert ":2:" in diag.message


def test_example_sentiment_pool_is_balanced() -> None:
    """prompts/sentiment.lgpt draws 4 balanced shots from its data file."""
    program = langgpt.load("prompts/sentiment.lgpt")
    out = langgpt.compile(program, variables={"sentence": "x"}, entry="classify_text").output
    labels = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Sentiment: ")]
    assert Counter(labels) == {"positive": 2, "negative": 2}
    data = [json.loads(line) for line in Path("prompts/data/sentiment_shots.jsonl").read_text().splitlines() if line]
    reviews = {r["sentence"] for r in data}
    shown = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Review: ")]
    assert len(shown) == 5 and all(r in reviews for r in shown[:4]) and shown[4] == "x"


# ----------------------------------------------------------------------------- the answer slot

SLOT = 'var q: text\ntemplate trail "Q: {q}\\nA: {answer}"\ntemplate mid "Q: {q} A: {answer} (end)"\n'


def test_trailing_answer_slot_is_removed() -> None:
    assert compile_src(SLOT, {"q": "x"}, entry="trail") == "Q: x\nA:"


def test_answer_slot_mid_text_is_marked() -> None:
    assert compile_src(SLOT, {"q": "x"}, entry="mid") == "Q: x A: [ANSWER] (end)"


@pytest.mark.parametrize(("entry", "expected"), [("trail", "Q: x\nA: 42"), ("mid", "Q: x A: 42 (end)")])
def test_answer_fills_the_slot(entry: str, expected: str) -> None:
    assert compile_src(SLOT, {"q": "x"}, entry=entry, answer="42") == expected


def test_answer_slot_in_messages_of_a_text_template() -> None:
    out = json.loads(compile_src(SLOT, {"q": "x"}, entry="trail", target="messages"))
    assert out == [{"role": "user", "content": "Q: x\nA:"}]
    out = json.loads(compile_src(SLOT, {"q": "x"}, entry="trail", target="messages", answer="42"))
    assert out == [{"role": "user", "content": "Q: x\nA: 42"}]


CHAT = """lgpt 1
var q: text
var label: label {neg, pos}
role R {
  initialization "hi"
}
examples qa {
  input: "Q: {q}"
  output: "{label}"
  { q: "a", label: 0 }
  { q: "b", label: 1 }
  { q: "c", label: pos }
}
examples plain {
  format: "{q} -> {label}"
  { q: "d", label: neg }
  { q: "e", label: 1 }
}
template chat {
  system: role R
  shots: qa
  user: "Q: {q}"
  assistant: "{answer}"
  answer: label
}
template chat_plain {
  system: role R
  shots: plain
  user: "Q: {q}"
  assistant: "{answer}"
}
"""


def test_chat_shots_with_input_output_become_turns() -> None:
    out = json.loads(compile_src(CHAT, {"q": "z"}, entry="chat", target="messages"))
    assert out == [
        {"role": "system", "content": "# Role: R\n\n## Initialization\nhi"},
        {"role": "user", "content": "Q: a"},
        {"role": "assistant", "content": "neg"},
        {"role": "user", "content": "Q: b"},
        {"role": "assistant", "content": "pos"},
        {"role": "user", "content": "Q: c"},
        {"role": "assistant", "content": "pos"},
        {"role": "user", "content": "Q: z"},
    ]


def test_chat_answer_fills_the_final_assistant_turn() -> None:
    out = json.loads(compile_src(CHAT, {"q": "z"}, entry="chat", target="messages", answer="neg"))
    assert out[-2:] == [{"role": "user", "content": "Q: z"}, {"role": "assistant", "content": "neg"}]
    assert len(out) == 9


def test_chat_shots_without_input_output_are_one_user_message() -> None:
    out = json.loads(compile_src(CHAT, {"q": "z"}, entry="chat_plain", target="messages"))
    assert out == [
        {"role": "system", "content": "# Role: R\n\n## Initialization\nhi"},
        {"role": "user", "content": "d -> neg\n\ne -> pos"},
        {"role": "user", "content": "Q: z"},
    ]


@pytest.mark.parametrize(
    "template",
    ['template T {\n  system: role\n  user: "x"\n}\n', 'template T {\n  user: "x"\n  system: role\n}\n'],
)
def test_role_reference_needs_a_name(template: str) -> None:
    """`system: role` must name its role (a bare `role` would swallow the next member's key)."""
    with pytest.raises(DiagnosticError) as info:
        langgpt.parse('role R {\n  initialization "hi"\n}\n' + template)
    assert info.value.diagnostics[0].code == "E001"


def test_chat_template_as_text_joins_messages() -> None:
    out = compile_src(CHAT, {"q": "z"}, entry="chat")
    assert out == "# Role: R\n\n## Initialization\nhi\n\nQ: a\n\nneg\n\nQ: b\n\npos\n\nQ: c\n\npos\n\nQ: z"


def test_label_variable_accepts_index() -> None:
    source = 'var label: label {neg, pos}\ntemplate T "{label}"\n'
    assert compile_src(source, {"label": 1}) == "pos"
    assert compile_src(source, {"label": 0}) == "neg"
    assert compile_src(source, {"label": "neg"}) == "neg"
    with pytest.raises(DiagnosticError) as info:
        compile_src(source, {"label": 2})
    assert info.value.diagnostics[0].code == "E111"
    with pytest.raises(DiagnosticError):
        compile_src(source, {"label": True})


# ----------------------------------------------------------------------------- entries and targets


def test_default_entry_is_first_template_else_first_role() -> None:
    source = 'role R {\n  initialization "r"\n}\ntemplate T1 "one"\ntemplate T2 "two"\n'
    program = langgpt.parse(source, "t.lgpt")
    assert langgpt.entries(program) == ["T1", "T2", "R"]
    assert langgpt.compile(program).output == "one"
    assert langgpt.compile(program).entry == "T1"
    only_role = langgpt.parse('role R {\n  initialization "r"\n}\n', "t.lgpt")
    assert langgpt.compile(only_role).entry == "R"


def test_unknown_entry_is_a_usage_error_with_suggestion() -> None:
    program = langgpt.parse('template classify "x"\n', "t.lgpt")
    with pytest.raises(langgpt.UsageError, match="did you mean `classify`"):
        langgpt.compile(program, entry="clasify")


def test_unknown_target_is_a_usage_error() -> None:
    with pytest.raises(langgpt.UsageError, match="unknown target"):
        langgpt.compile(langgpt.parse('template T "x"\n', "t.lgpt"), "xml")


def test_role_messages_is_one_system_message_with_the_markdown() -> None:
    program = langgpt.load("prompts/roles/poet.lgpt")
    text = langgpt.compile(program).output
    messages = json.loads(langgpt.compile(program, "messages").output)
    assert messages == [{"role": "system", "content": text.rstrip("\n")}]


def test_values_render_as_text() -> None:
    source = (
        "var i: int = -3\nvar f: float = 2\nvar g: float = 0.25\nvar b: bool = true\n"
        'var l: list[int] = [1, 2]\ntemplate T "{i}|{f}|{g}|{b}|{l}"\n'
    )
    assert compile_src(source) == "-3|2.0|0.25|true|1, 2"


def test_workflow_items_are_numbered_and_nesting_follows_indentation() -> None:
    source = (
        "role A {\n  workflow {\n    - a\n      - a1\n      - a2\n    - b\n  }\n  rules {\n    1. x\n    2. y\n  }\n}\n"
    )
    got = sections(compile_src(source))
    # nested items under a numbered step are bullets aligned under the step's text
    assert got["Workflow"] == "1. a\n   - a1\n   - a2\n2. b"
    assert got["Rules"] == "1. x\n2. y"


def test_commands_section_layout() -> None:
    source = 'role A {\n  commands {\n    prefix: "/"\n    help: show help\n    reset: start over\n  }\n}\n'
    assert sections(compile_src(source))["Commands"] == (
        "- Prefix: /\n- Commands:\n  - Help: show help\n  - Reset: start over"
    )


def test_multiline_item_continuation_is_indented() -> None:
    source = 'role A {\n  rules {\n    - """first\n      second"""\n  }\n}\n'
    assert sections(compile_src(source))["Rules"] == "- first\n  second"


def test_items_in_if_and_for_bodies_continue_the_list() -> None:
    """Indenting a block's body is layout: its items stand where the `if`/`for` line starts."""
    source = (
        'var on: bool = true\nvar xs: list[text] = ["p", "q"]\nrole A {\n  rules {\n    - first\n'
        "    if on {\n      - conditional\n        - its child\n    }\n"
        "    for x in xs {\n      - item {x}\n    }\n    - last\n  }\n}\n"
    )
    assert sections(compile_src(source))["Rules"] == (
        "- first\n- conditional\n  - its child\n- item p\n- item q\n- last"
    )


def test_indenting_the_for_line_nests_its_items() -> None:
    source = (
        'var xs: list[text] = ["p", "q"]\nrole A {\n  rules {\n    - terms:\n'
        "      for x in xs {\n        - {x}\n      }\n    - after\n  }\n}\n"
    )
    assert sections(compile_src(source))["Rules"] == "- terms:\n  - p\n  - q\n- after"
