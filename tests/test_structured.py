"""LangGPT role objects (JSON / YAML): import, the json / yaml targets, and the round trip between them.

The guarantee: for a role object O, ``lgpt import O`` then ``lgpt compile --target json`` (``yaml`` for
YAML input) gives back data equal to O, compared as parsed data. Where that cannot hold (JSON numbers,
null, shapes with no .lgpt form) the importer says so with W302.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import REPO_ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import langgpt
from langgpt.compiler import render
from langgpt.errors import Diagnostic, DiagnosticError, UsageError
from langgpt.fmt import format_source
from langgpt.importers import ImportResult
from langgpt.importers.structured import import_text, literal
from langgpt.render import RenderedRole, RenderedTemplate, RField, RItem, RPara, RSection, RSub
from langgpt.strings import plain_value
from langgpt.targets.structured import _dumper, body_value, compile_json, compile_yaml, role_object, yaml_scalar

LGPT = str(REPO_ROOT / ".venv" / "bin" / "lgpt")
FIXTURES = sorted((REPO_ROOT / "tests" / "fixtures" / "structured").iterdir())
SAMPLES_DIR = REPO_ROOT.parent / "shared" / "langgpt-samples"
SAMPLES = [SAMPLES_DIR / "09_miniRole.json", SAMPLES_DIR / "10_miniRole.yaml"] if SAMPLES_DIR.is_dir() else []


# ----------------------------------------------------------------------------- helpers


def fmt_of(path: Path) -> str:
    return "json" if path.suffix == ".json" else "yaml"


def load_data(text: str, fmt: str) -> Any:
    return json.loads(text) if fmt == "json" else yaml.safe_load(text)


def dump_data(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2)
    # the targets' dumper: PyYAML's own styles lose NEL / LS / PS, which would spoil the input
    text: str = yaml.dump(data, Dumper=_dumper(), allow_unicode=True, sort_keys=False)
    return text


def expected_roles(data: Any) -> list[Any]:
    """What compiling each imported role gives back: each role object, wrapped in ``{"Role": ...}``."""
    items = data if isinstance(data, list) else data["Roles"] if list(data) == ["Roles"] else [data]
    return [item if list(item) == ["Role"] else {"Role": item} for item in items]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LGPT, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def imported(data: Any, fmt: str, name: str = "in") -> tuple[ImportResult, langgpt.Program]:
    """Import ``data`` written as ``fmt``; the result must compile with no error and no warning."""
    result = import_text(dump_data(data, fmt), f"{name}.{fmt}", fmt)
    program = langgpt.parse(result.source, "imported.lgpt")
    problems = [d for d in langgpt.check(program) if d.severity.value != "note"]
    assert not problems, (problems, result.source)
    return result, program


def compiled(program: langgpt.Program, target: str) -> list[Any]:
    """Every role of the program compiled to ``target``, parsed back."""
    out = []
    for role in program.document.roles():
        text = langgpt.compile(program, target=target, entry=role.name).output
        out.append(load_data(text, target))
    return out


def lossy(result: ImportResult) -> list[Diagnostic]:
    return [n for n in result.notes if n.code == "W302"]


# ----------------------------------------------------------------------------- round trip through the CLI


def cli_round_trip(path: Path, tmp_path: Path, target: str | None = None) -> tuple[list[Any], list[Any], str]:
    target = target or fmt_of(path)
    out = tmp_path / (path.stem + ".lgpt")
    proc = run("import", str(path), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "warning[" not in proc.stderr, proc.stderr
    source = out.read_text(encoding="utf-8")
    assert source.startswith("lgpt 1\n")
    assert format_source(source) == source, "the importer's output is not in the canonical layout"
    check = run("check", "--strict", str(out))
    assert check.returncode == 0, check.stderr
    names = [role.name for role in langgpt.parse(source, "x.lgpt").document.roles()]
    results = []
    for name in names:
        proc = run("compile", str(out), "-t", target, "-e", name)
        assert proc.returncode == 0, proc.stderr
        results.append(load_data(proc.stdout, target))
    expected = expected_roles(load_data(path.read_text(encoding="utf-8"), fmt_of(path)))
    return results, expected, source


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_round_trips_through_the_cli(path: Path, tmp_path: Path) -> None:
    results, expected, _ = cli_round_trip(path, tmp_path)
    assert results == expected


@pytest.mark.skipif(not SAMPLES, reason="../shared/langgpt-samples is absent")
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_round_trips_through_the_cli(path: Path, tmp_path: Path) -> None:
    results, expected, source = cli_round_trip(path, tmp_path)
    assert results == expected
    # the sample's nested skills are items under items, inside the profile
    assert "    Skills {\n      - Skill-1\n        - skill description 1\n" in source


@pytest.mark.skipif(not SAMPLES, reason="../shared/langgpt-samples is absent")
def test_samples_import_without_loss_and_read_as_markdown() -> None:
    for path in SAMPLES:
        result = import_text(path.read_text(encoding="utf-8"), path.name, fmt_of(path))
        assert not lossy(result), lossy(result)
        program = langgpt.parse(result.source, "x.lgpt")
        text = langgpt.compile(program).output
        assert text.startswith("# Role: Your_Role_Name\n\n## Profile\n- Author: YZFly\n- Version: 0.1\n")
        assert "### Skills\n- Skill-1\n  - skill description 1\n" in text
        assert "## Workflow\n1. First, xxx\n2. Then, xxx\n3. Finally, xxx\n" in text


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_imports_without_loss(path: Path) -> None:
    result = import_text(path.read_text(encoding="utf-8"), path.name, fmt_of(path))
    assert not lossy(result), lossy(result)
    assert format_source(result.source) == result.source


def as_text(value: Any) -> Any:
    """A YAML value the way the json target gives it back: scalars become their text."""
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def as_yaml(value: Any) -> Any:
    """A JSON value the way the yaml target gives it back: texts spelled like numbers become numbers."""
    if isinstance(value, dict):
        return {k: as_yaml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_yaml(v) for v in value]
    return yaml_scalar(value)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_compiles_to_the_other_format(path: Path) -> None:
    fmt = fmt_of(path)
    result = import_text(path.read_text(encoding="utf-8"), path.name, fmt)
    program = langgpt.parse(result.source, "x.lgpt")
    expected = expected_roles(load_data(path.read_text(encoding="utf-8"), fmt))
    if fmt == "json":
        assert compiled(program, "yaml") == [as_yaml(e) for e in expected]
    else:
        assert compiled(program, "json") == [as_text(e) for e in expected]


def test_fixtures_cover_the_cases_they_are_meant_to() -> None:
    names = {p.name for p in FIXTURES}
    assert len(names) >= 6
    text = {p.name: p.read_text(encoding="utf-8") for p in FIXTURES}
    assert "简介" in text["chinese_poet.json"]
    assert isinstance(json.loads(text["collection.json"]), list)
    assert list(yaml.safe_load(text["roles_wrapper.yaml"])) == ["Roles"]
    assert yaml.safe_load(text["numbers.yaml"])["Role"]["Profile"]["Version"] == 1.5
    escapes = json.loads(text["escapes.json"])["Role"]
    assert "{name}" in escapes["Profile"]["Braces"] and "<Rules>" in escapes["Profile"]["Refs"]
    assert '"""' in escapes["Triple"] and "\\" in escapes["Profile"]["Author"]


# ----------------------------------------------------------------------------- round trip, property-based

_PIECES = [*'ab Z{}<>"\\#\n\t\r-:r1.字　', "\u2028", "\x85", '"""', "{x}", "<Rules>", "{#", "{if a}", "  ", "\n  "]
texts = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)
keys = st.one_of(
    texts,
    st.sampled_from(
        [
            *("Profile", "Rules", "rules", "if", "for", "Workflow", "Initialization", "Output Format", "规则"),
            *("author", "Role", "Constrains", "custom_1", "Skill-1", "", "name", "Version"),
        ]
    ),
)


def values(scalars: st.SearchStrategy[Any], depth: int = 3) -> st.SearchStrategy[Any]:
    if depth == 0:
        return scalars
    inner = values(scalars, depth - 1)
    tree = st.dictionaries(texts, st.lists(inner, min_size=1, max_size=3), min_size=1, max_size=1)
    return st.one_of(
        scalars,
        st.lists(st.one_of(inner, tree), max_size=4),
        st.dictionaries(keys, inner, max_size=4),
    )


def role_objects(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    role = st.builds(
        lambda name, body: {"name": name, **body},
        texts,
        st.dictionaries(keys.filter(lambda k: k != "name"), values(scalars), max_size=5),
    )
    return st.one_of(
        role.map(lambda r: {"Role": r}),
        st.lists(role.map(lambda r: {"Role": r}), min_size=1, max_size=3),
        st.lists(role, min_size=1, max_size=2).map(lambda rs: {"Roles": rs}),
    )


yaml_scalars = st.one_of(
    texts,
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from(["0.1", "1", "true", "007", "1e-05", "1.0"]),
)
#: Characters ``str.splitlines`` breaks at besides \n: inside strings they are text, but ``lgpt fmt``
#: counts lines with splitlines, so a second formatting pass may add blank lines around them.
_LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@PROPERTY
@given(role_objects(texts))
def test_json_round_trip_property(data: Any) -> None:
    """Every role object imports to .lgpt that compiles cleanly; with no W302, exactly back."""
    result, program = imported(data, "json")
    if not any(ch in result.source for ch in _LINE_BREAKS):
        assert format_source(result.source) == result.source
    if not lossy(result):
        assert compiled(program, "json") == expected_roles(data)


@PROPERTY
@given(role_objects(yaml_scalars))
def test_yaml_round_trip_property(data: Any) -> None:
    result, program = imported(data, "yaml")
    if not lossy(result):
        assert compiled(program, "yaml") == expected_roles(data)


@PROPERTY
@given(texts)
def test_text_literals_read_back_exactly(text: str) -> None:
    for unquoted in (False, True):
        source = f"lgpt 1\nrole R {{\n  s {{\n    - {literal(text, unquoted)}\n    K: {literal(text, unquoted)}\n  }}\n"
        source += f"  p {literal(text)}\n}}\n"
        program = langgpt.parse(format_source(source), "x.lgpt")
        assert not [d for d in langgpt.check(program) if d.is_error]
        rendered = render(program)
        assert isinstance(rendered, RenderedRole)
        body, prose = rendered.sections[0].body, rendered.sections[1].body
        if "\r" in text:  # a carriage return ending a line may be lost: then the importer says so (W302)
            noted = any(
                "carriage return" in n.message for n in imported({"Role": {"name": "R", "A": text}}, "json")[0].notes
            )
            assert noted == (prose != text)
            continue
        assert body == [RItem(0, False, text), RField("K", text)]
        assert prose == text


def test_plain_value_of_a_quoted_title_is_exact() -> None:
    from langgpt.fmt import quote

    for text in ['a "b" \\ {c} <D>', "tab\tnew\nline", ""]:
        assert plain_value("STRING", quote(text)) == text


# ----------------------------------------------------------------------------- what the importer writes


def source_of(data: Any, fmt: str = "json") -> str:
    return imported(data, fmt)[0].source


def test_profile_fields_lists_and_prose() -> None:
    source = source_of(
        {
            "Role": {
                "name": "Helper",
                "Profile": {"Author": "Acme", "Language": "English"},
                "Rules": ["be brief", "be honest"],
                "Initialization": "Greet the user.",
            }
        }
    )
    assert source == (
        "lgpt 1\n\nrole Helper {\n  Profile {\n    Author: Acme\n    Language: English\n  }\n"
        '  Rules {\n    - be brief\n    - be honest\n  }\n  Initialization r"Greet the user."\n}\n'
    )


def test_names_that_are_not_names_become_titles() -> None:
    source = source_of({"Role": {"name": "Code Reviewer", "Output Format": "x", "my notes": "y", "if": "z"}})
    assert 'role CodeReviewer "Code Reviewer" {' in source
    assert '  output_format r"x"' in source  # a known section keeps its identity
    assert '  custom_1 "my notes" r"y"' in source
    assert '  custom_2 "if" r"z"' in source


def test_section_keys_that_would_clash_or_warn_get_titles() -> None:
    data = {"Role": {"name": "R", "Rules": ["a"], "规则": ["b"], "Constrains": ["c"], "rules2": "d", "tone": "e"}}
    source = source_of(data)
    assert '  custom_1 "规则" {' in source  # the same section as Rules: a second one would be E104
    assert '  constraints "Constrains" {' in source  # a misspelling as the name would be W202
    assert '  custom_2 "rules2" r"d"' in source  # close to `rules`: as a name it would be W202
    assert '  tone "tone" r"e"' in source  # lower-case names are capitalised unless titled


def test_keys_a_field_would_change_become_subsections_with_a_note() -> None:
    data = {"Role": {"name": "R", "Profile": {"author": "me", "if": "x", "Author": "you", "AUTHOR": "them"}}}
    result, program = imported(data, "json")
    assert '    author "author" r"me"\n' in result.source
    assert '    sub_if "if" r"x"\n' in result.source
    assert "    Author: you\n" in result.source
    assert '    AUTHOR "AUTHOR" r"them"\n' in result.source
    notes = [n.message for n in result.notes if "so it is a subsection" in n.message]
    assert len(notes) == 3 and "would print the key as `Author`" in notes[0]
    assert compiled(program, "json") == [data]


def test_initialization_that_is_not_last_keeps_its_place() -> None:
    data = {"Role": {"name": "R", "Initialization": "first", "Rules": ["a"]}}
    _, program = imported(data, "json")
    text = langgpt.compile(program, target="json").output
    assert list(json.loads(text)["Role"]) == ["name", "Initialization", "Rules"]


def test_strings_are_written_so_they_render_byte_for_byte() -> None:
    source = source_of(
        {
            "Role": {
                "name": "R",
                "Rules": ["plain", "use {name}", 'say "hi"', "C:\\dir", "<Rules>", "a\nb", 'x """ y\nz'],
            }
        }
    )
    assert "    - plain\n" in source
    assert '    - r"use {name}"\n' in source
    assert '    - say "hi"\n' in source
    assert '    - r"C:\\dir"\n' in source
    assert '    - r"<Rules>"\n' in source
    assert '    - r"""\n      a\n      b\n    """\n' in source
    assert '    - """\n      x \\"\\"\\" y\n      z\n    """\n' in source


def test_nested_profile_lists_become_subsections_with_item_trees() -> None:
    data = {"Role": {"name": "R", "Profile": {"Skills": [{"Skill-1": ["a", {"deeper": ["b"]}]}, "plain"]}}}
    source = source_of(data)
    assert "    Skills {\n      - Skill-1\n        - a\n        - deeper\n          - b\n      - plain\n    }" in source


def test_a_collection_gets_unique_role_names_and_a_note() -> None:
    data = [{"Role": {"name": "A b"}}, {"name": "A b"}, {"name": "A_b"}]
    result, program = imported(data, "json")
    assert [r.name for r in program.document.roles()] == ["Ab", "Ab_2", "A_b"]
    assert any("a collection of 3 roles" in n.message for n in result.notes)
    assert any("no `Role` wrapper" in n.message for n in result.notes)
    assert compiled(program, "json") == expected_roles(data)


def test_notes_point_at_the_input_lines() -> None:
    text = (
        '{\n  "Role": {\n    "name": "R",\n    "Profile": {\n      "Version": 2\n    },\n    "Rules": ["a"]\n  }\n}\n'
    )
    result = import_text(text, "in.json", "json")
    by_message = {n.message: n for n in result.notes}
    profile = next(n for m, n in by_message.items() if m.startswith("`Role.Profile` -> section"))
    assert profile.code == "I301" and profile.span is not None
    assert (profile.span.line, profile.span.col) == (4, 5)
    version = next(n for n in result.notes if "`Role.Profile.Version`" in n.message)
    assert version.code == "W302" and version.span is not None and version.span.line == 5
    assert "json target writes it as a string" in version.message
    rules = next(n for m, n in by_message.items() if m.startswith("`Role.Rules` -> section"))
    assert rules.span is not None and rules.span.line == 7


def test_yaml_notes_point_at_the_input_lines() -> None:
    text = "Role:\n  name: R\n  Profile:\n    Version: 0.1\n"
    result = import_text(text, "in.yaml", "yaml")
    version = next(n for n in result.notes if "`Role.Profile.Version`" in n.message)
    assert version.code == "I301" and version.span is not None
    assert (version.span.line, version.span.col) == (4, 5)


# ----------------------------------------------------------------------------- what does not round-trip


def test_json_scalars_that_are_not_strings_come_back_as_text() -> None:
    data = {"Role": {"name": "R", "Profile": {"Version": 0.10, "Count": 3, "On": True, "Off": None}}}
    text = '{"Role": {"name": "R", "Profile": {"Version": 0.10, "Count": 3, "On": true, "Off": null}}}'
    result = import_text(text, "in.json", "json")
    assert len(lossy(result)) == 4
    program = langgpt.parse(result.source, "x.lgpt")
    assert "    Version: 0.10\n" in result.source  # a number keeps its text
    out = json.loads(langgpt.compile(program, target="json").output)
    assert out["Role"]["Profile"] == {"Version": "0.10", "Count": "3", "On": "true", "Off": ""}
    assert out != data


def test_yaml_quoted_numbers_and_null_are_reported() -> None:
    result = import_text("Role:\n  name: R\n  A: '0.5'\n  B:\n  C: 2024-01-02\n", "in.yaml", "yaml")
    messages = [n.message for n in lossy(result)]
    assert any("`Role.A`" in m and "reads as a YAML scalar" in m for m in messages)
    assert any("`Role.B`" in m and "null" in m for m in messages)
    assert any("`Role.C`" in m and "date" in m for m in messages)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ([["a", "b"], "c"], "a list inside a list"),
        ([{"a": "1", "b": "2"}, "c"], "a mapping with several keys"),
        ([{"a": "1"}, {"b": "2"}], "a list made only of one-key mappings"),
        ({}, "an empty mapping"),
        ({"": ["x"]}, "under an empty key"),
    ],
)
def test_shapes_without_an_lgpt_form_are_kept_as_text(value: Any, why: str) -> None:
    data = {"Role": {"name": "R", "Odd": value, "Rules": ["kept"]}}
    result, program = imported(data, "json")
    assert any(why in n.message for n in lossy(result)), result.notes
    out = compiled(program, "json")[0]["Role"]
    assert out["Rules"] == ["kept"]
    assert out["Odd"] != value


def test_duplicate_json_keys_are_reported() -> None:
    result = import_text('{"Role": {"name": "R",\n "Rules": ["a"],\n "Rules": ["b"]}}', "in.json", "json")
    note = next(n for n in lossy(result) if "appears more than once" in n.message)
    assert note.span is not None and note.span.line == 3


def test_role_beside_name_is_a_section_of_an_unwrapped_role() -> None:
    data = {"name": "Bot", "Role": {"Kind": "helper"}, "Rules": ["a"]}
    _, program = imported(data, "json")
    assert compiled(program, "json") == [{"Role": data}]


def test_duplicate_yaml_keys_are_reported() -> None:
    result = import_text("Role:\n  name: R\n  Rules: [a]\n  Rules: [b]\n", "in.yaml", "yaml")
    note = next(n for n in lossy(result) if "appears more than once" in n.message)
    assert note.span is not None and (note.span.line, note.span.col) == (4, 3)


def test_verbatim_fallback_keeps_json_numbers() -> None:
    result = import_text('{"Role": {"name": "R", "Grid": [[1, 2.50], "x"]}}', "in.json", "json")
    program = langgpt.parse(result.source, "x.lgpt")
    assert compiled(program, "json")[0]["Role"]["Grid"] == ["[1, 2.5]", "x"]


def test_a_role_without_a_name_is_reported() -> None:
    result, program = imported({"Role": {"Rules": ["a"]}}, "json")
    assert any("no `name`" in n.message for n in lossy(result))
    assert [r.name for r in program.document.roles()] == ["Role"]


# ----------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("text", "fmt", "line", "col"),
    [
        ('{"Role": {"name": "x",}}', "json", 1, 23),
        ('{\n  "Role": {\n    "name": "x"\n    "Rules": []\n  }\n}', "json", 4, 5),
        ("Role:\n  name: x\n   Rules: [a\n", "yaml", 3, 9),
        ("Role:\n  name: [a, b\n", "yaml", 3, 1),
        ("a: 1\n---\nb: 2\n", "yaml", 2, 1),
    ],
)
def test_syntax_errors_are_e301_at_their_position(text: str, fmt: str, line: int, col: int) -> None:
    with pytest.raises(DiagnosticError) as info:
        import_text(text, f"bad.{fmt}", fmt)
    diag = info.value.diagnostics[0]
    assert diag.code == "E301"
    assert diag.span is not None
    assert (diag.span.file, diag.span.line, diag.span.col) == (f"bad.{fmt}", line, col)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('"just a string"', "got a string"),
        ("42", "got a number"),
        ("null", "got nothing"),
        ("[]", "no role objects"),
        ('["a"]', "item 0 of the list is a string"),
        ('{"Role": "Poet"}', "`Role` must hold the role object"),
        ('{"Role": {"name": "x"}, "Rules": []}', "other keys beside it"),
        ('{"Roles": [{"Role": {"name": "x"}, "Rules": []}]}', "other keys beside it"),
        ('{"Roles": {"name": "x"}}', "`Roles` must hold a list"),
    ],
)
def test_wrong_shapes_are_e301(text: str, words: str) -> None:
    with pytest.raises(DiagnosticError) as info:
        import_text(text, "bad.json", "json")
    diag = info.value.diagnostics[0]
    assert diag.code == "E301" and words in diag.message, diag.message
    assert diag.span is not None and diag.span.line >= 1


def test_input_nested_too_deeply_is_e301() -> None:
    value: Any = "x"
    for index in range(120):
        value = {f"k{index}": value}
    with pytest.raises(DiagnosticError) as info:
        import_text(json.dumps({"Role": {"name": "R", "Deep": value}}), "deep.json", "json")
    from langgpt.importers.structured import MAX_DEPTH

    assert f"more than {MAX_DEPTH} levels deep" in info.value.diagnostics[0].message


def test_an_empty_yaml_document_is_e301() -> None:
    with pytest.raises(DiagnosticError) as info:
        import_text("# nothing here\n", "empty.yaml", "yaml")
    assert info.value.diagnostics[0].code == "E301"


def test_unsafe_yaml_tags_are_refused() -> None:
    with pytest.raises(DiagnosticError) as info:
        import_text("Role: !!python/object/apply:os.system ['true']\n", "evil.yaml", "yaml")
    assert info.value.diagnostics[0].code == "E301"


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("bad.json", '{\n  "Role": {\n    "name": "x",\n  }\n}\n', ":4:3"),
        ("bad.yaml", "Role:\n  name: x\n   Rules: [a\n", ":3:9"),
        ("shape.json", '["not a role"]\n', ":1:2"),
        ("shape.yaml", "- 1\n- 2\n", ":1:3"),
        ("empty.json", "", ":1:1"),
    ],
)
def test_cli_import_reports_bad_input(tmp_path: Path, name: str, content: str, where: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    proc = run("import", str(path))
    assert proc.returncode == 1
    assert "error[E301]" in proc.stderr
    assert f"{path}{where}" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout == ""


def test_cli_compile_json_of_a_broken_file_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "broken.lgpt"
    path.write_text('lgpt 1\nrole R {\n  rules {\n    - a\n  }\n  init "x\n}\n', encoding="utf-8")
    for target in ("json", "yaml"):
        proc = run("compile", str(path), "-t", target)
        assert proc.returncode == 1
        assert "error[E002]" in proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout


def test_cli_compile_json_of_a_template_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "template.lgpt"
    path.write_text('lgpt 1\ntemplate t "Hello."\n', encoding="utf-8")
    proc = run("compile", str(path), "-t", "json")
    assert proc.returncode == 2
    assert "the json/yaml targets compile roles; pick a role with --entry" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


# ----------------------------------------------------------------------------- the targets


HANDWRITTEN = """lgpt 1
role Reviewer "Code Reviewer" {
  profile {
    author: Acme
    version: "1.0"
    "Preferred language": Python
  }
  skills {
    "A paragraph."
    - reads diffs
      - nested
        - deeper
    - spots bugs
    motto: ship it
    security "Security checks" {
      - injection
    }
    style "Prose subsection."
  }
  workflow {
    - first
    - second
  }
  output_format "Findings, then a verdict.\\nTwo lines."
}
"""


def handwritten() -> RenderedRole:
    rendered = render(langgpt.parse(HANDWRITTEN, "role.lgpt"))
    assert isinstance(rendered, RenderedRole)
    return rendered


def test_json_target_shape() -> None:
    out = compile_json(handwritten())
    assert out.endswith("}\n") and out.startswith('{\n    "Role": {\n        "name": "Code Reviewer",')
    assert json.loads(out) == {
        "Role": {
            "name": "Code Reviewer",
            "Profile": {"Author": "Acme", "Version": "1.0", "Preferred language": "Python"},
            "Skills": [
                "A paragraph.",
                {"reads diffs": [{"nested": ["deeper"]}]},
                "spots bugs",
                {"Motto": "ship it"},
                {"Security checks": ["injection"]},
                {"Style": "Prose subsection."},
            ],
            "Workflow": ["first", "second"],
            "Output Format": "Findings, then a verdict.\nTwo lines.",
        }
    }


def test_yaml_target_shape_and_styles() -> None:
    out = compile_yaml(handwritten())
    data = yaml.safe_load(out)
    assert data["Role"]["Profile"]["Version"] == 1.0  # written as YAML spells a number
    assert data["Role"]["Output Format"] == "Findings, then a verdict.\nTwo lines."
    assert "  Output Format: |-\n    Findings, then a verdict.\n    Two lines.\n" in out
    assert out.startswith("Role:\n  name: Code Reviewer\n  Profile:\n    Author: Acme\n")
    assert "中" in compile_yaml(RenderedRole("R", "中文", [])), "unicode is written as is"


def test_targets_are_deterministic() -> None:
    assert compile_json(handwritten()) == compile_json(handwritten())
    assert compile_yaml(handwritten()) == compile_yaml(handwritten())
    assert json.loads(compile_json(handwritten())) == role_object(handwritten())


def test_targets_refuse_templates() -> None:
    template = RenderedTemplate("t", "Hello")
    for target in (compile_json, compile_yaml):
        with pytest.raises(UsageError, match="pick a role with --entry"):
            target(template)


def test_body_value_rules() -> None:
    assert body_value("prose") == "prose"
    assert body_value([]) == []
    assert body_value([RField("A", "1"), RSub("B", [RItem(0, False, "x")])]) == {"A": "1", "B": ["x"]}
    assert body_value([RField("A", "1"), RSub("A", "2")]) == [{"A": "1"}, {"A": "2"}]  # a repeated key
    assert body_value([RPara("p"), RItem(0, True, "x"), RItem(1, True, "y"), RItem(0, False, "z")]) == [
        "p",
        {"x": ["y"]},
        "z",
    ]


def test_duplicate_section_titles_are_both_kept() -> None:
    role = RenderedRole("R", "R", [RSection("a", None, "X", "1"), RSection("b", None, "X", "2")])
    assert role_object(role) == {"Role": {"name": "R", "X": "1", "X (2)": "2"}}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("-3", -3),
        ("0.1", 0.1),
        ("1e-05", 1e-05),
        ("2.0", 2.0),
        ("true", True),
        ("false", False),
        ("007", "007"),
        ("0.10", "0.10"),
        ("1e5", "1e5"),
        ("1:30", "1:30"),
        ("yes", "yes"),
        ("null", "null"),
        ("", ""),
    ],
)
def test_yaml_scalar(text: str, value: Any) -> None:
    assert yaml_scalar(text) == value and type(yaml_scalar(text)) is type(value)


def test_yaml_unicode_line_breaks_survive() -> None:
    role = RenderedRole("R", "R", [RSection("a", None, "A", "x\x85y\u2028z\n")])
    assert yaml.safe_load(compile_yaml(role))["Role"]["A"] == "x\x85y\u2028z\n"
