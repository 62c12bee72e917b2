"""Diagnostics: codes and exact positions.

(a) every prompts/errors file against its ``# expect: CODE LINE:COL`` header;
(b) an inline table of in-memory sources, one or more per code;
(c) several problems in one file are all reported by one ``check``, in source order;
(d) ``format_diagnostic`` renders location, source line, caret, expected and hint.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import error_files, expectation

import langgpt
from langgpt import Diagnostic, DiagnosticError, format_diagnostic
from langgpt.ast import Span
from langgpt.errors import CODES, sort_diagnostics

# ----------------------------------------------------------------------------- helpers


def diagnostics_of(
    source: str,
    variables: dict[str, object] | None = None,
    cli: frozenset[str] = frozenset(),
    entry: str | None = None,
) -> tuple[str, list[Diagnostic]]:
    """Run parse -> check -> compile; return the stage that failed and its diagnostics
    (``check`` with the warnings when only warnings were found, ``ok`` when nothing was)."""
    try:
        program = langgpt.parse(source, "t.lgpt")
    except DiagnosticError as exc:
        return "parse", list(exc.diagnostics)
    found = langgpt.check(program)
    if any(d.is_error for d in found):
        return "check", found
    try:
        langgpt.compile(program, variables=variables, cli_values=cli, entry=entry)
    except DiagnosticError as exc:
        return "compile", list(exc.diagnostics)
    return ("check", found) if found else ("ok", [])


def first_with(code: str, diagnostics: list[Diagnostic]) -> Diagnostic:
    matching = [d for d in diagnostics if d.code == code]
    assert matching, f"no {code} among {[(d.code, d.message) for d in diagnostics]}"
    return matching[0]


def file_diagnostics(path: str) -> list[Diagnostic]:
    try:
        program = langgpt.load(path)
    except DiagnosticError as exc:  # syntax and import errors are raised by load
        return list(exc.diagnostics)
    return langgpt.check(program)


# ----------------------------------------------------------------------------- (a) the errors directory


@pytest.mark.parametrize("path", error_files(), ids=lambda p: Path(p).stem)
def test_error_file_expectation(path: str) -> None:
    code, line, col = expectation(path)
    assert code in CODES
    diag = first_with(code, file_diagnostics(path))
    assert (diag.span.line, diag.span.col) == (line, col), diag
    if code == "E106":
        # the cycle is reported at the import that closes it, which may sit in the partner file
        assert diag.span.file.startswith("prompts/errors/import_cycle_")
    else:
        assert diag.span.file == path
    assert diag.message
    assert diag.severity.value == ("warning" if code.startswith("W") else "error")


def test_errors_directory_covers_many_codes() -> None:
    codes = {expectation(p)[0] for p in error_files()}
    assert len(error_files()) >= 15
    assert {"E001", "E002", "E003", "E004", "E101", "E106", "E107", "W201", "W202"} <= codes


def test_non_utf8_file_is_e005(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.lgpt"
    bad.write_bytes(b'lgpt 1\nrole A {\n  initialization "caf\xe9"\n}\n')
    with pytest.raises(DiagnosticError) as info:
        langgpt.load(bad, root=tmp_path)
    diag = first_with("E005", list(info.value.diagnostics))
    assert (diag.span.line, diag.span.col) == (3, 22)


def test_directory_instead_of_file_is_e005(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticError) as info:
        langgpt.load(tmp_path, root=tmp_path)
    assert [d.code for d in info.value.diagnostics] == ["E005"]


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.lgpt"
    path.write_bytes('\ufefflgpt 1\nrole A {\n  initialization "hi"\n}\n'.encode())
    assert langgpt.compile(langgpt.load(path, root=tmp_path)).output == "# Role: A\n\n## Initialization\nhi\n"


def test_import_outside_root_is_e107(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "outside.lgpt").write_text('role O {\n  initialization "x"\n}\n', encoding="utf-8")
    main = project / "main.lgpt"
    main.write_text('import "../outside.lgpt" as o\nrole A extends o.O {\n}\n', encoding="utf-8")
    with pytest.raises(DiagnosticError) as info:
        langgpt.load(main, root=project)
    diag = first_with("E107", list(info.value.diagnostics))
    assert (diag.span.line, diag.span.col) == (1, 8)  # the path string
    assert "outside the project root" in diag.message
    # a wider root allows it
    program = langgpt.load(main, root=tmp_path)
    assert "## Initialization\nx" in langgpt.compile(program).output


# ----------------------------------------------------------------------------- (b) inline table

ROLE_WITH = 'var x: {type}\nrole A {{\n  initialization "{{x}}"\n}}\n'


def role_with(type_and_default: str) -> str:
    return ROLE_WITH.format(type=type_and_default)


CHAT = 'role A {\n  initialization "hi"\n}\ntemplate T {\n  system: role A\n'

# (id, source, stage, code, line, col)
CASES: list[tuple[str, str, str, str, int, int]] = [
    # E001: syntax errors of several shapes
    ("E001-unclosed-block-at-eof", "role A {\n  rules {\n    - x\n  }\n", "parse", "E001", 1, 8),
    ("E001-brace-closed-on-item-line", "role A {\n  skills { - x }\n}\n", "parse", "E001", 2, 10),
    ("E001-missing-role-name", "role {\n}\n", "parse", "E001", 1, 6),
    ("E001-single-quotes", "role A 'x' {\n}\n", "parse", "E001", 1, 8),
    ("E001-var-without-colon", "var x text\n", "parse", "E001", 1, 7),
    ("E001-stray-word", "lgpt 1\nhello\n", "parse", "E001", 2, 1),
    # E002: unterminated strings and tags
    ("E002-string", 'role A {\n  initialization "abc\n}\n', "parse", "E002", 2, 18),
    ("E002-tag", 'role A {\n  initialization "a {x"\n}\n', "parse", "E002", 2, 21),
    ("E002-comment", 'role A {\n  initialization "a {# c"\n}\n', "parse", "E002", 2, 21),
    (
        "E002-if-never-closed",
        'var x: bool = true\nrole A {\n  initialization "a {if x} b"\n}\n',
        "parse",
        "E002",
        3,
        21,
    ),
    (
        "E002-for-never-closed",
        'var x: list[text] = []\nrole A {\n  initialization "a {for i in x} b"\n}\n',
        "parse",
        "E002",
        3,
        21,
    ),
    # E003: invalid tags of several shapes
    ("E003-two-words", 'role A {\n  initialization "a {x y}"\n}\n', "parse", "E003", 2, 21),
    ("E003-punctuation", 'role A {\n  initialization "a {x!}"\n}\n', "parse", "E003", 2, 21),
    ("E003-stray-end", 'role A {\n  initialization "a {end}"\n}\n', "parse", "E003", 2, 21),
    ("E003-stray-else", 'role A {\n  initialization "ab {else}"\n}\n', "parse", "E003", 2, 22),
    ("E003-bad-loop", 'role A {\n  initialization "a {for x of y}{end}"\n}\n', "parse", "E003", 2, 21),
    # E004
    ("E004-version", 'lgpt 3\nrole A {\n  initialization "x"\n}\n', "parse", "E004", 1, 6),
    # E101: undefined names everywhere a name can appear
    ("E101-item", "role A {\n  rules {\n    - use {nope}\n  }\n}\n", "check", "E101", 3, 11),
    ("E101-field", "role A {\n  profile {\n    language: {nope}\n  }\n}\n", "check", "E101", 3, 15),
    ("E101-entry-if", "role A {\n  rules {\n    if nope {\n      - a\n    }\n  }\n}\n", "check", "E101", 3, 8),
    ("E101-role-if", "role A {\n  if nope {\n    rules {\n      - a\n    }\n  }\n}\n", "check", "E101", 2, 6),
    (
        "E101-entry-for",
        "role A {\n  rules {\n    for x in nope {\n      - {x}\n    }\n  }\n}\n",
        "check",
        "E101",
        3,
        14,
    ),
    ("E101-role-for", "role A {\n  for x in nope {\n    rules {\n      - {x}\n    }\n  }\n}\n", "check", "E101", 2, 12),
    ("E101-string-if", 'role A {\n  initialization "x {if nope}y{end}"\n}\n', "check", "E101", 2, 25),
    ("E101-string-for", 'role A {\n  initialization "x {for i in nope}y{end}"\n}\n', "check", "E101", 2, 21),
    ("E101-text-template", 'template T "Hello {nope}"\n', "check", "E101", 1, 19),
    ("E101-chat-template", CHAT + '  user: "x {nope}"\n}\n', "check", "E101", 6, 12),
    ("E101-answer-member", CHAT + "  answer: nope\n}\n", "check", "E101", 6, 11),
    (
        "E101-loop-var-out-of-scope",
        'var xs: list[text] = ["a"]\nrole A {\n  initialization "{for i in xs}{end}{i}"\n}\n',
        "check",
        "E101",
        3,
        37,
    ),
    ("E101-field-of-scalar", 'var x: text = "a"\nrole A {\n  initialization "{x.y}"\n}\n', "compile", "E101", 3, 19),
    # E102: defaults of each type
    ("E102-int", role_with('int = "a"'), "check", "E102", 1, 14),
    ("E102-int-from-float", role_with("int = 1.5"), "check", "E102", 1, 14),
    ("E102-float", role_with('float = "a"'), "check", "E102", 1, 16),
    ("E102-bool", role_with("bool = 1"), "check", "E102", 1, 15),
    ("E102-text", role_with("text = 3"), "check", "E102", 1, 15),
    ("E102-label-name", role_with("label {a, b} = c"), "check", "E102", 1, 23),
    ("E102-label-index", role_with("label {a, b} = 2"), "check", "E102", 1, 23),
    ("E102-list-item", role_with('list[int] = ["a"]'), "check", "E102", 1, 21),
    ("E102-list-not-list", role_with('list[text] = "a"'), "check", "E102", 1, 21),
    # E103
    ("E103-variable", 'var x: text\nvar x: text\nrole A {\n  initialization "{x}"\n}\n', "check", "E103", 2, 5),
    ("E103-role", "role A {\n}\nrole A {\n}\n", "check", "E103", 3, 6),
    ("E103-label-twice", role_with("label {a, a}"), "check", "E103", 1, 8),
    # E104
    ("E104-section", "role A {\n  rules {\n    - a\n  }\n  rules {\n    - b\n  }\n}\n", "check", "E104", 5, 3),
    ("E104-section-alias", "role A {\n  rules {\n    - a\n  }\n  规则 {\n    - b\n  }\n}\n", "check", "E104", 5, 3),
    ("E104-profile-field", "role A {\n  profile {\n    name: a\n    Name: b\n  }\n}\n", "check", "E104", 4, 5),
    # E105
    ("E105-reference", 'role A {\n  initialization "follow <Rules>"\n}\n', "check", "E105", 2, 26),
    # E107 (import of a missing file, from an in-memory source)
    ("E107-import", 'import "no_such_file_anywhere.lgpt" as n\nrole A {\n}\n', "parse", "E107", 1, 8),
    # E108
    ("E108-system-role", CHAT.replace("role A\n", "role B\n") + "}\n", "check", "E108", 5, 16),
    ("E108-extends", 'role A extends B {\n  initialization "hi"\n}\n', "check", "E108", 1, 16),
    ("E108-shots", CHAT + "  shots: nope\n}\n", "check", "E108", 6, 10),
    # E109
    (
        "E109-record-lacks-field",
        'var x: text\nexamples e {\n  format: "{a} {b}"\n  { a: "1", b: "2" }\n  { a: "3" }\n}\ntemplate T "{e} {x}"\n',
        "check",
        "E109",
        5,
        5,
    ),
    ("E109-no-records", 'examples e {\n  format: "x"\n}\ntemplate T "{e}"\n', "check", "E109", 1, 10),
    # E110
    ("E110-required-var", role_with("text"), "compile", "E110", 3, 19),
    (
        "E110-required-in-format",
        'var x: text = "a"\nvar y: text\nexamples e {\n  format: "{x} {y}"\n  { x: "b" }\n}\ntemplate T "{e}"\n',
        "compile",
        "E110",
        4,
        16,
    ),
    # E112
    ("E112-unknown", role_with("string"), "check", "E112", 1, 8),
    ("E112-list-without-item", role_with("list"), "check", "E112", 1, 8),
    ("E112-labels-on-text", role_with("text {a}"), "check", "E112", 1, 8),
    ("E112-list-of-unknown", role_with("list[str]"), "check", "E112", 1, 8),
    # E113
    ("E113-unknown-member", CHAT + '  foo: "x"\n}\n', "check", "E113", 6, 3),
    (
        "E113-mixed",
        'role A {\n  initialization "hi"\n}\ntemplate T {\n  text: "a"\n  user: "b"\n}\n',
        "check",
        "E113",
        4,
        10,
    ),
    ("E113-empty", "var x: text\ntemplate T {\n  answer: x\n}\n", "check", "E113", 2, 10),
    ("E113-shots-shape", CHAT + '  shots: "x"\n}\n', "check", "E113", 6, 10),
    # E114
    ("E114-self", 'role A extends A {\n  initialization "hi"\n}\n', "check", "E114", 1, 16),
    # E115
    (
        "E115-missing-data",
        'examples e from "nope.jsonl" {\n  format: "{a}"\n}\ntemplate T "{e}"\n',
        "check",
        "E115",
        1,
        17,
    ),
    # E116
    ("E116-nothing", "lgpt 1\nvar x: text\n", "compile", "E116", 1, 1),
    # E117
    (
        "E117-loop-over-text",
        'var x: text = "a"\nrole A {\n  rules {\n    for i in x {\n      - {i}\n    }\n  }\n}\n',
        "compile",
        "E117",
        4,
        14,
    ),
    (
        "E117-compare-str-int",
        'var x: text = "a"\nrole A {\n  initialization "{x} {if x < 3}y{end}"\n}\n',
        "compile",
        "E117",
        3,
        27,
    ),
    (
        "E117-invalid-condition",
        'var x: text = "a"\nrole A {\n  initialization "{if x ==}y{end}"\n}\n',
        "parse",
        "E117",
        3,
        25,
    ),
    # E119
    (
        "E119-records-and-file",
        'examples e from "d.jsonl" {\n  format: "{a}"\n  { a: "x" }\n}\ntemplate T "{e}"\n',
        "check",
        "E119",
        3,
        5,
    ),
    # W201, W202, W203, W204
    ("W201-unused", 'var x: text = "a"\nrole A {\n  initialization "hi"\n}\n', "check", "W201", 1, 5),
    ("W202-constrains", "role A {\n  constrains {\n    - a\n  }\n}\n", "check", "W202", 2, 3),
    ("W202-workflows", "role A {\n  Workflows {\n    - a\n  }\n}\n", "check", "W202", 2, 3),
    (
        "W203-append-base-lacks",
        "role Base {\n  rules {\n    - a\n  }\n}\nrole Child extends Base {\n  goals += {\n    - g\n  }\n}\n",
        "check",
        "W203",
        7,
        3,
    ),
    ("W203-append-without-base", "role A {\n  goals += {\n    - g\n  }\n}\n", "check", "W203", 2, 3),
    (
        "W204-unused-example-set",
        'examples unused {\n  format: "{a}"\n  { a: "x" }\n}\nrole A {\n  initialization "hi"\n}\n',
        "check",
        "W204",
        1,
        10,
    ),
    (
        "E121-blocks-nested-too-deep",
        "role A {\n  rules {\n" + "    if x {\n" * 70 + "    - a\n" + "    }\n" * 70 + "  }\n}\n",
        "parse",
        "E121",
        65,
        10,
    ),
    ("W205-unknown-annotation", "@colour(red)\nrole A {\n  goals {\n    - g\n  }\n}\n", "check", "W205", 1, 2),
    (
        "E120-annotation-setting-type",
        '@markdown(space="two")\nrole A {\n  goals {\n    - g\n  }\n}\n',
        "check",
        "E120",
        1,
        17,
    ),
    (
        "E120-unknown-annotation-setting",
        "role A {\n  @markdown(size=3)\n  goals {\n    - g\n  }\n}\n",
        "check",
        "E120",
        2,
        13,
    ),
    (
        "W203-not-for-an-earlier-section",
        "role A {\n  goals {\n    - g\n  }\n  goals += {\n    - h\n  }\n  rules += {\n    - r\n  }\n}\n",
        "check",
        "W203",
        8,
        3,
    ),
    (
        "E001-keyword-section-after-string-is-fine-but-bad-item",
        'role A {\n  rules "x"\n  examples "y"\n  - z\n}\n',
        "parse",
        "E001",
        4,
        3,
    ),
]


MARKS: dict[str, pytest.MarkDecorator] = {}


@pytest.mark.parametrize(
    ("source", "stage", "code", "line", "col"),
    [pytest.param(*c[1:], id=c[0], marks=MARKS.get(c[0], ())) for c in CASES],
)
def test_inline_diagnostic(source: str, stage: str, code: str, line: int, col: int) -> None:
    got_stage, diagnostics = diagnostics_of(source)
    assert got_stage == stage, [(d.code, d.message) for d in diagnostics]
    diag = first_with(code, diagnostics)
    assert diag.span is not None
    assert (diag.span.file, diag.span.line, diag.span.col) == ("t.lgpt", line, col), diag
    assert diag.span.end_line > diag.span.line or diag.span.end_col >= diag.span.col
    assert diag.message


def test_inline_table_is_large_and_ids_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 25


# compile-time diagnostics that need values: (id, source, variables, cli names, code, line, col)
VALUE_CASES: list[tuple[str, str, dict[str, object], frozenset[str], str, int | None, int | None]] = [
    ("E111-cli-int", role_with("int"), {"x": "abc"}, frozenset({"x"}), "E111", 1, 5),
    ("E111-cli-float", role_with("float"), {"x": "1,5"}, frozenset({"x"}), "E111", 1, 5),
    ("E111-cli-bool", role_with("bool"), {"x": "maybe"}, frozenset({"x"}), "E111", 1, 5),
    ("E111-cli-label", role_with("label {a, b}"), {"x": "c"}, frozenset({"x"}), "E111", 1, 5),
    ("E111-cli-label-index", role_with("label {a, b}"), {"x": "2"}, frozenset({"x"}), "E111", 1, 5),
    ("E111-cli-list-item", role_with("list[int]"), {"x": "1,b"}, frozenset({"x"}), "E111", 1, 5),
    ("E111-cli-list-json", role_with("list[int]"), {"x": "[1, "}, frozenset({"x"}), "E111", 1, 5),
    ("E111-typed-int-as-string", role_with("int"), {"x": "3"}, frozenset(), "E111", 1, 5),
    ("E111-typed-text-as-int", role_with("text"), {"x": 3}, frozenset(), "E111", 1, 5),
    ("E111-typed-bool-as-int", role_with("bool"), {"x": 1}, frozenset(), "E111", 1, 5),
    ("E111-typed-list-as-text", role_with("list[text]"), {"x": "a"}, frozenset(), "E111", 1, 5),
    ("E118-unknown-name", role_with('text = "a"'), {"y": "b"}, frozenset({"y"}), "E118", None, None),
    ("E118-typo", role_with('text = "a"'), {"xx": "b"}, frozenset(), "E118", None, None),
    ("E117-over-size-limit", role_with("text"), {"x": "a" * (16 * 1024 * 1024 + 1)}, frozenset(), "E117", 3, 18),
]


@pytest.mark.parametrize(
    ("source", "variables", "cli", "code", "line", "col"), [c[1:] for c in VALUE_CASES], ids=[c[0] for c in VALUE_CASES]
)
def test_value_diagnostic(
    source: str, variables: dict[str, object], cli: frozenset[str], code: str, line: int | None, col: int | None
) -> None:
    program = langgpt.parse(source, "t.lgpt")
    assert not [d for d in langgpt.check(program) if d.is_error]
    with pytest.raises(DiagnosticError) as info:
        langgpt.compile(program, variables=variables, cli_values=cli)
    diag = first_with(code, list(info.value.diagnostics))
    if line is None:
        assert diag.span is None
        assert diag.location() == "<input>"
    else:
        assert (diag.span.line, diag.span.col) == (line, col)


def test_e118_suggests_the_close_name() -> None:
    program = langgpt.parse(role_with('text = "a"'), "t.lgpt")
    with pytest.raises(DiagnosticError) as info:
        langgpt.compile(program, variables={"xx": "b"})
    (diag,) = info.value.diagnostics
    assert diag.code == "E118"
    assert "`xx`" in diag.message
    assert diag.hint == "did you mean `x`?"


def test_e110_names_the_variable_and_how_to_pass_it() -> None:
    program = langgpt.parse(role_with("int"), "t.lgpt")
    with pytest.raises(DiagnosticError) as info:
        langgpt.compile(program)
    (diag,) = info.value.diagnostics
    assert diag.code == "E110"
    assert "`x`" in diag.message
    assert "--var x=" in (diag.hint or "")


def test_values_that_do_coerce() -> None:
    """The counterpart of the E111 cases: values of the right shape are accepted."""
    program = langgpt.parse(role_with("list[int]"), "t.lgpt")
    out = langgpt.compile(program, variables={"x": "1, 2,3"}, cli_values=frozenset({"x"})).output
    assert out.endswith("## Initialization\n1, 2, 3\n")
    program = langgpt.parse(role_with("label {a, b}"), "t.lgpt")
    assert langgpt.compile(program, variables={"x": 1}).output.endswith("\nb\n")
    assert langgpt.compile(program, variables={"x": "1"}, cli_values=frozenset({"x"})).output.endswith("\nb\n")


# codes that need files on disk are covered by the errors directory and the E005 tests above;
# every other code of the language front end (E0xx, E1xx, W2xx) must appear in the tables
FILE_ONLY = {"E005", "E106", "E122", "E123"}  # E122: tests/test_limits.py; E123 (--guard-roles): tests/test_guard.py
FRONT_END = {code for code in CODES if code[1] in "012"}


def test_every_code_is_covered() -> None:
    covered = {c[3] for c in CASES} | {c[4] for c in VALUE_CASES}
    assert covered <= set(CODES)
    assert covered | FILE_ONLY == FRONT_END
    assert "E106" in {expectation(p)[0] for p in error_files()}  # E005 is tested with files in tmp_path


def test_warnings_do_not_block_compilation() -> None:
    program = langgpt.parse("role A {\n  constrains {\n    - a\n  }\n}\n", "t.lgpt")
    result = langgpt.compile(program)
    assert [d.code for d in result.warnings] == ["W202"]
    assert "- a" in result.output


# ----------------------------------------------------------------------------- (c) many problems, one run

MANY = """lgpt 1
var a: string
var b: int = "x"
var unused: text = "u"
role R {
  rules {
    - {nope}
  }
  constrains {
    - c {b}
  }
  initialization "see <Rulez> and {a}"
}
template T {
  system: role Q
  bogus: "x"
}
"""


def test_all_problems_reported_in_source_order() -> None:
    diagnostics = langgpt.check(langgpt.parse(MANY, "t.lgpt"))
    got = [(d.code, d.span.line, d.span.col) for d in diagnostics]
    assert got == [
        ("E112", 2, 8),
        ("E102", 3, 14),
        ("W201", 4, 5),
        ("E101", 7, 7),
        ("W202", 9, 3),
        ("E105", 12, 23),
        ("E108", 15, 16),
        ("E113", 16, 3),
    ]
    assert got == sorted(got, key=lambda t: (t[1], t[2]))


def test_compile_raises_with_every_error() -> None:
    with pytest.raises(DiagnosticError) as info:
        langgpt.compile(langgpt.parse(MANY, "t.lgpt"))
    codes = [d.code for d in info.value.diagnostics]
    assert codes == ["E112", "E102", "W201", "E101", "W202", "E105", "E108", "E113"]
    assert len(info.value.errors) == 6
    assert str(info.value).startswith("t.lgpt:2:8: E112")


def test_sort_diagnostics_orders_and_dedups() -> None:
    def at(line: int, col: int) -> Span:
        return Span(file="t.lgpt", line=line, col=col, end_line=line, end_col=col + 1)

    a = Diagnostic("E101", "a", at(5, 2))
    b = Diagnostic("E102", "b", at(2, 9))
    c = Diagnostic("E001", "c", at(5, 2))
    d = Diagnostic("E118", "no span")
    assert sort_diagnostics([a, b, c, a, d]) == [d, b, c, a]


# ----------------------------------------------------------------------------- (d) formatting


def caret_columns(text: str, line_no: int) -> tuple[str, str]:
    """The excerpt's source line and caret line, each with its `` N | `` gutter removed."""
    lines = text.splitlines()
    src_prefix = f" {line_no} | "
    src_index = next(i for i, ln in enumerate(lines) if ln.startswith(src_prefix))
    caret_line = lines[src_index + 1]
    caret_prefix = f" {' ' * len(str(line_no))} | "
    assert caret_line.startswith(caret_prefix)
    return lines[src_index][len(src_prefix) :], caret_line[len(caret_prefix) :]


def test_format_diagnostic_from_error_file() -> None:
    path = "prompts/errors/unknown_reference.lgpt"
    program = langgpt.load(path)
    (diag,) = langgpt.check(program)
    text = format_diagnostic(diag, program.sources)
    assert text.splitlines()[0] == "error[E105]: unknown reference `<Rulez>`"
    assert f"{path}:9:78" in text
    source_line, carets = caret_columns(text, 9)
    assert source_line == Path(path).read_text(encoding="utf-8").splitlines()[8]
    assert carets.index("^") == 77  # under column 78
    assert carets.strip() == "^" * len("<Rulez>")
    assert source_line[77 : 77 + len("<Rulez>")] == "<Rulez>"
    assert "expected:" in text
    assert "hint: did you mean `<Rules>`?" in text


def test_format_diagnostic_caret_after_wide_characters() -> None:
    source = 'role 诗人 {\n  规则 {\n    - 押韵\n  }\n  初始化 "作为诗人，遵守<规划>"\n}\n'
    program = langgpt.parse(source, "t.lgpt")
    (diag,) = langgpt.check(program)
    assert (diag.code, diag.span.line, diag.span.col) == ("E105", 5, 15)
    text = format_diagnostic(diag, program.sources)
    source_line, carets = caret_columns(text, 5)
    # columns count characters; the caret is placed by display width (CJK takes two cells)
    prefix = source_line[: diag.span.col - 1]
    assert prefix == '  初始化 "作为诗人，遵守'
    assert carets.index("^") == 2 + 2 * 3 + 2 + 2 * 7
    assert carets.count("^") == 2 + 2 * 2  # `<规划>`: two ASCII brackets, two wide characters
    assert "规则" in next(ln for ln in text.splitlines() if "= expected:" in ln)
    assert "= hint:" in text


def test_format_diagnostic_without_source_or_span() -> None:
    diag = Diagnostic("E118", "value given for undeclared variable `y`", None, "a variable declared with `var`", "h")
    text = format_diagnostic(diag, {})
    assert text.splitlines() == [
        "error[E118]: value given for undeclared variable `y`",
        "   = expected: a variable declared with `var`",
        "   = hint: h",
    ]
    # a span into a file whose source is unknown: location but no excerpt
    (located,) = langgpt.check(langgpt.parse('var x: text = "a"\n', "t.lgpt"))
    text = format_diagnostic(located, {})
    assert "--> t.lgpt:1:5" in text
    assert "|" not in text
    assert text.startswith("warning[W201]")


def test_format_diagnostic_multidigit_gutter() -> None:
    path = "prompts/errors/duplicate_section.lgpt"
    program = langgpt.load(path)
    (diag,) = langgpt.check(program)
    text = format_diagnostic(diag, program.sources)
    source_line, carets = caret_columns(text, 12)
    assert source_line == "  rules {"
    assert carets == "  ^^^^^"
    assert text.splitlines()[2] == "    |"  # gutter padded to the width of `12`


# ----------------------------------------------------------------------------- spans of nodes


def span_text(source: str, span: Span) -> str:
    lines = source.splitlines()
    assert span.line == span.end_line
    return lines[span.line - 1][span.col - 1 : span.end_col - 1]


def test_spans_include_closing_delimiters() -> None:
    source = 'var x: label {a, b} = a\ntemplate T "{x}"\nsoft_prompt {\n  init: text(R)\n}\n'
    doc = langgpt.parse(source, "t.lgpt").document
    (var,) = doc.variables()
    assert span_text(source, var.type.span) == "label {a, b}"
    (config,) = doc.configs()
    assert span_text(source, config.settings[0].values[0].span) == "text(R)"


def test_e112_caret_covers_the_type() -> None:
    source = 'var x: string = "a"\ntemplate T "{x}"\n'
    program = langgpt.parse(source, "t.lgpt")
    (diag,) = langgpt.check(program)
    assert span_text(source, diag.span) == "string"
