"""The PromptSource importer: templates.yaml -> .lgpt that compiles to what Jinja would render.

The expected prompts below were checked against Jinja 3.1 rendering the fixture (PromptSource's
``apply``: render, split on ``|||``, strip), for the two rows used here."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import REPO_ROOT

import langgpt
from langgpt import ast
from langgpt.errors import DiagnosticError
from langgpt.importers import detect_format
from langgpt.importers import import_text as import_any
from langgpt.importers.promptsource import import_text

FIXTURE = "tests/fixtures/promptsource/templates.yaml"
UNSUPPORTED = "tests/fixtures/promptsource/unsupported.yaml"
LGPT = Path(sys.executable).parent / "lgpt"
HAPPY = {
    "review": "Battery lasts two days.",
    "label": "positive",
    "title": "Great",
    "pros": ["light", "cheap"],
    "stars": 5,
    "verified": "yes",
}
UNHAPPY = {"review": "Broke in a week.", "label": 0, "title": "", "pros": [], "stars": 2, "verified": "no"}


def fixture_text(path: str = FIXTURE) -> str:
    return (REPO_ROOT / path).read_text(encoding="utf-8")


def imported() -> langgpt.Program:
    return langgpt.parse(import_text(fixture_text(), FIXTURE).source, "imported.lgpt")


def document(jinja: str, choices: str | None = "negative ||| positive", name: str = "T") -> str:
    """A one-template templates.yaml; the Jinja source starts at line 6, column 7."""
    return documents((jinja, choices, name))


def documents(*templates: tuple[str, str | None, str]) -> str:
    """A templates.yaml; each template takes 6 lines plus its Jinja lines (a ``|-`` block scalar)."""
    out = "dataset: toy\ntemplates:\n"
    for n, (jinja, choices, name) in enumerate(templates, start=1):
        out += f"  id-{n}: !Template\n    answer_choices: {choices if choices is not None else 'null'}\n"
        out += "    jinja: |-\n" + textwrap.indent(jinja, "      ") + f"\n    name: {name}\n    reference: ''\n"
    return out


def problems(text: str) -> list[tuple[str, int, int]]:
    with pytest.raises(DiagnosticError) as info:
        import_text(text, "templates.yaml")
    return [(d.code, d.span.line, d.span.col) if d.span else (d.code, 0, 0) for d in info.value.diagnostics]


def render(source: str, entry: str | None = None, answer: str | None = None, **values: object) -> str:
    return langgpt.compile(langgpt.parse(source, "x.lgpt"), variables=values, entry=entry, answer=answer).output


def test_fixture_compiles_without_errors() -> None:
    program = imported()
    assert [d for d in langgpt.check(program) if d.is_error] == []
    assert langgpt.entries(program) == [
        "review_then_question",
        "title_if_present",
        "pros_list_thumbs",
        "write_a_title",
        "summarize_no_target",
    ]


@pytest.mark.parametrize(
    ("entry", "row", "expected"),
    [
        ("review_then_question", HAPPY, "Battery lasts two days. Is this review negative or positive?"),
        (
            "title_if_present",
            HAPPY,
            "Title: Great\nReview: Battery lasts two days.\n\nWas the buyer happy? Answer negative or positive.",
        ),
        (
            "title_if_present",
            UNHAPPY,
            "(no title)\nReview: Broke in a week.\n\nWas the buyer happy? Answer negative or positive.",
        ),
        (
            "pros_list_thumbs",
            HAPPY,
            "The buyer listed these pros:\n* light\n* cheap\nA verified buyer gave 5 stars.\n\n"
            "Would they give it a thumbs down or a thumbs up?",
        ),
        (
            "pros_list_thumbs",
            UNHAPPY,
            "The buyer listed these pros:\n\nWould they give it a thumbs down or a thumbs up?",
        ),
        (
            "write_a_title",
            HAPPY,
            "Here is a positive review of a gadget (a happy one):\n\nBattery lasts two days.\n\nWrite a short title for it.",
        ),
        (
            "write_a_title",
            UNHAPPY,
            "Here is a negative review of a gadget (an unhappy one):\n\nBroke in a week.\n\nWrite a short title for it.",
        ),
        (
            "summarize_no_target",
            HAPPY,
            'Summarize the review "Great" in one sentence: <Review> Battery lasts two days. {stars: 5}',
        ),
    ],
)
def test_templates_compile_to_the_jinja_prompt(entry: str, row: dict[str, object], expected: str) -> None:
    program = imported()
    assert langgpt.compile(program, variables=row, entry=entry).output == expected


def test_target_is_the_answer_slot() -> None:
    program = imported()
    result = langgpt.compile(program, variables=HAPPY, entry="review_then_question", answer="positive")
    assert result.output == "Battery lasts two days. Is this review negative or positive? positive"
    templates = {t.name: t for t in program.document.templates()}
    answers = {
        name: next((m.value.name for m in t.members if m.key == "answer" and isinstance(m.value, ast.NameRef)), None)
        for name, t in templates.items()
    }
    assert answers == {
        "review_then_question": "label",
        "title_if_present": "label",
        "pros_list_thumbs": "label",
        "write_a_title": "title",
        "summarize_no_target": None,
    }


def test_generated_declarations() -> None:
    source = import_text(fixture_text(), FIXTURE).source
    for line in (
        'var review: text "PromptSource field review"',
        'var label: label {negative, positive} "PromptSource field label"',
        'var pros: list[text] "PromptSource field pros"',
        'var stars: int "PromptSource field stars"',
        '{for p in pros}* {p}\n    {end}{if stars >= 4 and verified == "yes"}A verified buyer gave {stars} stars.',
        '{if label == "positive"} (a happy one){elif true} (an unhappy one){end}',  # label == 1, label != -1
        'verbalizer pros_list_thumbs_words for label {\n  negative: "thumbs down"\n  positive: "thumbs up"\n}',
        "verbalizer review_then_question_words for label {",
        'text: """{review} Is this review negative or positive? {answer}"""',
    ):
        assert line in source
    assert source == langgpt.fmt.format_source(source)


def test_verbalizers_map_label_names_to_each_templates_choices() -> None:
    blocks = {b.name: b for b in imported().document.decls if isinstance(b, ast.ConfigBlock)}
    assert sorted(blocks) == [
        "pros_list_thumbs_words",
        "review_then_question_words",
        "title_if_present_words",
        "write_a_title_words",
    ]
    thumbs = blocks["pros_list_thumbs_words"]
    assert thumbs.kind == "verbalizer" and thumbs.target == "label"
    assert {s.key: s.values[0].value for s in thumbs.settings} == {  # type: ignore[union-attr]
        "negative": "thumbs down",
        "positive": "thumbs up",
    }


def test_notes_per_template_with_lines() -> None:
    notes = import_text(fixture_text(), FIXTURE).notes
    templates = {
        n.span.line: n.message for n in notes if n.code == "I301" and n.message.startswith("template") and n.span
    }
    assert sorted(templates) == [3, 17, 32, 53, 73]
    assert "Jinja comment(s) dropped" in templates[17]
    assert "whitespace control applied" in templates[32]
    assert "no answer slot" in templates[73]
    variables = {n.message.split("`")[1]: (n.span.line, n.span.col) for n in notes if n.message.startswith("variable")}
    assert variables["review"] == (6, 15)
    assert variables["label"] == (7, 8)  # inside a folded single-quoted scalar
    assert variables["title"] == (20, 19)  # inside a double-quoted scalar
    assert variables["pros"] == (37, 19)  # inside a block scalar
    assert [n.code for n in notes].count("W301") == 1


def test_unsupported_fixture_lists_every_problem() -> None:
    with pytest.raises(DiagnosticError) as info:
        import_text(fixture_text(UNSUPPORTED), UNSUPPORTED)
    found = [(d.code, d.span.line, d.span.col, d.span.end_col) for d in info.value.diagnostics if d.span]
    assert found == [("E302", 6, 23, 33), ("E302", 20, 7, 22), ("E302", 21, 34, 40)]
    messages = [d.message for d in info.value.diagnostics]
    assert "filter `| truncate`" in messages[0]
    assert "`{% set %}`" in messages[1]
    assert "`| join`" in messages[2]
    assert all(d.hint for d in info.value.diagnostics)


@pytest.mark.parametrize(
    ("jinja", "expected"),
    [
        ("{% for x in xs %}{{ loop.index }}{% endfor %}", [("E302", 6, 27)]),
        ("{% for x in xs %}{{ x }}{% else %}none{% endfor %}", [("E302", 6, 31)]),
        ("{{ a + b }}", [("E302", 6, 12)]),
        ("{% for x in xs %}{% endfor %}{{ xs }}", [("E302", 6, 39)]),
        ("{% if label > 0 %}x{% endif %} ||| {{ answer_choices[label] }}", [("E302", 6, 13)]),
        ("{% if a %} ||| {% endif %}", [("E302", 6, 18)]),
        ("{{ review }} ||| {{ answer_choices[label] }} extra", [("E302", 6, 24)]),
        ("{% macro m() %}x{% endmacro %}", [("E302", 6, 7), ("E302", 6, 23)]),
        ("{{ lipsum(3) }}", [("E302", 6, 16)]),
        ("{{ review[0] }}", [("E302", 6, 16)]),
        ("{% if a is defined %}x{% endif %}", [("E302", 6, 15)]),
        ("{{ answer_choices[label] }} ||| {{ label }}", [("E302", 6, 42)]),
        ("{% if a %}open", [("E301", 6, 7)]),
        ("{{ a }}\n{% endif %}", [("E301", 7, 7)]),
        ("{{ a", [("E301", 6, 7)]),
    ],
)
def test_unsupported_jinja_is_reported_at_its_position(jinja: str, expected: list[tuple[str, int, int]]) -> None:
    assert problems(document(jinja)) == expected


def test_positions_inside_double_quoted_escapes() -> None:
    text = (
        "dataset: toy\ntemplates:\n  id-1: !Template\n    answer_choices: null\n"
        '    jinja: "Title:\\t{{ title }}\\n  \\"quoted\\" {{ t | upper }}\\\n      \\ {{ x | lower }}"\n'
        "    name: Quoted\n"
    )
    assert problems(text) == [("E302", 5, 52), ("E302", 6, 14)]


def test_yaml_problems_are_e301() -> None:
    assert problems("templates:\n  a: !Template\n    jinja: 'never closed\n") == [("E301", 4, 1)]
    assert problems("dataset: x\n") == [("E301", 0, 0)]
    assert problems("templates:\n  a: !Template\n    name: no jinja\n") == [("E301", 2, 3)]
    assert problems("templates:\n  a: !Template [1]\n") == [("E301", 2, 6)]


def test_python_tags_are_refused_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "constructed"
    text = f"templates:\n  a: !!python/object/apply:os.system ['touch {marker}']\n"
    assert problems(text) == [("E301", 2, 6)]
    assert not marker.exists()


def test_label_names_come_from_answer_choices() -> None:
    source = import_text(
        document("{{ review }} ||| {{ answer_choices[label] }}", "very negative ||| positive"), "t.yaml"
    ).source
    assert 'var label: label {"very negative", positive}' in source
    assert '"very negative": "very negative"' in source
    assert render(source, label="very negative", review="Meh.", answer="very negative") == "Meh. very negative"


def test_choices_printed_in_the_prompt_follow_each_template() -> None:
    text = documents(
        (
            "Pick {{ answer_choices[0] }} or {{ answer_choices[1] }}. ||| {{ answer_choices[label] }}",
            "negative ||| positive",
            "T",
        ),
        ("It was {{ answer_choices[label] }}{% if label %}!{% endif %}", "bad ||| good", "T"),
    )
    source = import_text(text, "t.yaml").source
    assert "template t {" in source and "template t_2 " in source  # names stay unique
    assert render(source, "t", label=1) == "Pick negative or positive."
    assert render(source, "t_2", label="positive") == "It was good!"
    assert render(source, "t_2", label="negative") == "It was bad"


def test_reserved_and_dotted_fields_are_renamed() -> None:
    source = import_text(
        document("{{ answer }} {{ meta.topic }} {% for if in xs %}{{ if }}{% endfor %}"), "t.yaml"
    ).source
    assert 'var answer_field: text "PromptSource field answer"' in source
    assert 'var meta_topic: text "PromptSource field meta.topic"' in source
    assert "{for if_field in xs}{if_field}{end}" in source
    assert render(source, answer_field="A", meta_topic="B", xs=["c", "d"]) == "A B cd"


def test_whitespace_control_and_comments() -> None:
    source = import_text(document("Hello   {{- name -}}  !{#- a note -#}\n  Bye"), "t.yaml").source
    assert render(source, name="Ada") == "HelloAda!Bye"


def test_indented_lines_keep_their_spaces() -> None:
    source = import_text(document("Intro\n  indented {{ a }}\n  also indented"), "t.yaml").source
    assert render(source, a="x") == "Intro\n  indented x\n  also indented"


def test_mismatched_choice_counts_are_reported() -> None:
    text = documents(
        ("{{ answer_choices[label] }}", "negative ||| positive", "T"),
        ("{{ answer_choices[label] }}", "a ||| b ||| c", "U"),
    )
    assert problems(text) == [("E302", 10, 21)]


def test_detect_and_dispatch() -> None:
    assert detect_format(Path(FIXTURE), fixture_text()) == "promptsource"
    assert import_any(fixture_text(), FIXTURE, "promptsource") == import_text(fixture_text(), FIXTURE)


def _lgpt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LGPT_DEBUG"}
    env["NO_COLOR"] = "1"
    command = [str(LGPT)] if LGPT.exists() else [sys.executable, "-m", "langgpt.cli"]
    return subprocess.run(
        [*command, *args], cwd=REPO_ROOT, capture_output=True, text=True, encoding="utf-8", env=env, timeout=60
    )


def test_cli_imports_templates_yaml() -> None:
    run = _lgpt("import", FIXTURE)
    assert run.returncode == 0, run.stderr
    assert run.stdout == import_text(fixture_text(), FIXTURE).source
    assert "note[I301]" in run.stderr


def test_cli_unsupported_exits_1_without_traceback() -> None:
    run = _lgpt("import", UNSUPPORTED)
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    assert run.stdout == ""
    for where in ("unsupported.yaml:6:23", "unsupported.yaml:20:7", "unsupported.yaml:21:34"):
        assert where in run.stderr


def test_cli_malformed_yaml_exits_1_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text("templates:\n  a: !Template\n    jinja: '{{ x }} |||\n", encoding="utf-8")
    run = _lgpt("import", str(path), "--from", "promptsource")
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    assert "error[E301]" in run.stderr
