"""LangGPT Markdown import: the fidelity guarantee, structure recognition, slots, notes, CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import langgpt
from langgpt.fmt import format_source
from langgpt.importers.markdown import import_text, normalise

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "markdown").iterdir())
SAMPLES_DIR = ROOT.parent / "shared" / "langgpt-samples"
SAMPLES = sorted(SAMPLES_DIR.glob("*.md")) if SAMPLES_DIR.is_dir() else []


def round_trip(text: str, name: str = "in.md") -> tuple[str, langgpt.Program, str]:
    result = import_text(text, name)
    program = langgpt.parse(result.source, "imported.lgpt")
    errors = [d for d in langgpt.check(program) if d.is_error]
    assert not errors, errors
    return result.source, program, langgpt.compile(program, target="markdown").output


def assert_faithful(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    source, _, markdown = round_trip(text, path.name)
    assert normalise(markdown) == normalise(text)
    assert format_source(source) == source, "importer output is not in the canonical layout"


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_round_trips(path: Path) -> None:
    assert_faithful(path)


@pytest.mark.skipif(not SAMPLES, reason="../shared/langgpt-samples is absent")
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_round_trips(path: Path) -> None:
    assert_faithful(path)


@pytest.mark.skipif(not SAMPLES, reason="../shared/langgpt-samples is absent")
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_samples_import_structurally_not_as_one_blob(path: Path) -> None:
    result = import_text(path.read_text(encoding="utf-8"), path.name)
    assert not any(n.code == "W302" for n in result.notes), "the structured import had to fall back to prose"
    program = langgpt.parse(result.source, "x.lgpt")
    assert all(len(role.members) >= 2 for role in program.document.roles())


def test_sections_fields_and_lists_are_recognised() -> None:
    text = "# Role: Coach\n\n## Profile\n- Author: me\n- Version: 2\n\n## Rules\n1. one\n2. two\n   - nested\n\n## Workflow\n1. a\n2. b\n"
    _, program, _ = round_trip(text)
    role = program.document.roles()[0]
    assert role.name == "Coach"
    kinds = {s.name: s for s in role.members if isinstance(s, langgpt.ast.Section)}
    assert set(kinds) == {"profile", "rules", "workflow"}
    profile = kinds["profile"].body
    assert isinstance(profile, langgpt.ast.Block)
    assert [e.key for e in profile.entries if isinstance(e, langgpt.ast.FieldEntry)] == ["Author", "Version"]
    rules = kinds["rules"].body
    assert isinstance(rules, langgpt.ast.Block)
    assert [e.depth for e in rules.entries if isinstance(e, langgpt.ast.Item)] == [0, 0, 1]
    # the text target sees the same structure
    assert "1. one\n2. two\n   - nested" in langgpt.compile(program, entry="Coach").output


def test_dialects_and_misspellings_map_to_known_sections() -> None:
    text = "## Role: 药剂师\n\n## Constrains:\n- a\n\n## Workflows:\n- b\n\n## 初始化\n开始。\n"
    result = import_text(text, "x.md")
    program = langgpt.parse(result.source, "x.lgpt")
    names = [s.name for s in program.document.roles()[0].members if isinstance(s, langgpt.ast.Section)]
    assert names == ["constraints", "workflow", "initialization"]
    assert any("recognised as Constraints" in n.message and n.span and n.span.line == 3 for n in result.notes)


def test_slots_become_variables_with_the_slot_as_default() -> None:
    text = "# Role: Planner\n\n## Rules\n- Plan for {{traveller}} going to {city} on [travel_dates].\n"
    result = import_text(text, "x.md")
    assert 'var traveller: text = "{{traveller}}"' in result.source
    assert 'var city: text = "{city}"' in result.source
    assert 'var travel_dates: text = "[travel_dates]"' in result.source
    warning = next(n for n in result.notes if n.code == "W301")
    assert "traveller" in warning.message and "city" in warning.message
    program = langgpt.parse(result.source, "x.lgpt")
    filled = langgpt.compile(program, variables={"traveller": "Ana", "city": "Lisbon"}, target="markdown").output
    assert "Plan for Ana going to Lisbon on [travel_dates]." in filled


def test_text_that_looks_like_syntax_stays_literal() -> None:
    text = '# Role: Dev\n\n## Rules\n- Match \\d+ in C:\\temp\n- Output {"a": 1} and {not a slot}\n- Say """ and <Nothing> and <div>\n'
    _, _, markdown = round_trip(text)
    assert normalise(markdown) == normalise(text)


@pytest.mark.parametrize(
    "text",
    [
        "# Role: X\n\n## Notes\n{# not a comment #} and {if x} and {end} {else} {x}\n",
        "# Role: X\n## A\n## A\n## a\n## Rules\n## rules\n",
        "# Role: X\n\n## Notes\n```\nunclosed fence\n## not a heading\n",
        "# Role: X\n\n## Notes\n    all indented\n    lines here\n",
        "#Role:X\n##Rules\n-x\n",
        "",
    ],
    ids=["tag-words", "repeated-titles", "unclosed-fence", "indented-prose", "no-spaces", "empty"],
)
def test_awkward_inputs_round_trip(text: str) -> None:
    _, _, markdown = round_trip(text)
    assert normalise(markdown) == normalise(text)


def test_fenced_code_keeps_hash_lines_out_of_the_heading_structure() -> None:
    text = "# Role: Shell\n\n## Examples\n```bash\n# not a heading\necho hi\n```\n\n## Rules\n- be safe\n"
    _, program, markdown = round_trip(text)
    assert [s.name for s in program.document.roles()[0].members] == ["examples", "rules"]
    assert normalise(markdown) == normalise(text)


def test_prose_only_prompt_is_one_role_with_one_body() -> None:
    text = "You are terse.\n\nAnswer in one line."
    _, program, markdown = round_trip(text, "p.txt")
    roles = program.document.roles()
    assert len(roles) == 1 and len(roles[0].members) == 1
    assert normalise(markdown) == normalise(text)


def test_a_collection_imports_as_several_roles() -> None:
    text = "# Role: A\n\n## Rules\n- a\n\n# Role: B\n\n## Rules\n- b\n\n# Role: A\n\n## Rules\n- again\n"
    _, program, markdown = round_trip(text)
    assert [r.name for r in program.document.roles()] == ["A", "B", "A_2"]
    assert normalise(markdown) == normalise(text)


def test_crlf_and_bom_input() -> None:
    text = "\ufeff# Role: X\r\n\r\n## Rules\r\n- one\r\n"
    _, _, markdown = round_trip(text)
    assert normalise(markdown) == normalise(text.lstrip("\ufeff"))


_WORDS = st.text(
    alphabet=st.sampled_from("abcdefghij KLMNOP 规则工作流程 ,.:;!?()[]{}<>\"'\\/#*_-1234"), min_size=1, max_size=30
)
_LINE = _WORDS.map(str.strip).filter(bool)


@st.composite
def langgpt_markdown(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["Helper", "Tutor", "诗人", "Data_Analyst"]))
    parts = [f"# Role: {name}", ""]
    for title in draw(
        st.lists(
            st.sampled_from(["Profile", "Rules", "Workflow", "Goals", "背景", "Custom Notes", "Skills:"]),
            min_size=1,
            max_size=4,
        )
    ):
        parts += [f"## {title}"]
        if draw(st.booleans()):
            parts.append("")
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["bullet", "number", "nested", "prose", "field"]))
            line = draw(_LINE)
            parts.append(
                {
                    "bullet": f"- {line}",
                    "number": f"1. {line}",
                    "nested": f"  - {line}",
                    "prose": line,
                    "field": f"- Key: {line}",
                }[kind]
            )
        parts.append("")
    return "\n".join(parts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(langgpt_markdown())
def test_generated_langgpt_markdown_round_trips(text: str) -> None:
    _, _, markdown = round_trip(text)
    assert normalise(markdown) == normalise(text)


def test_cli_import_writes_a_file_that_compiles_back(tmp_path: Path) -> None:
    src = tmp_path / "in.md"
    src.write_text("# Role: X\n\n## Rules\n- keep {{tone}}\n", encoding="utf-8")
    out = tmp_path / "out.lgpt"
    run = subprocess.run(
        [sys.executable, "-m", "langgpt.cli", "import", str(src), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert "W301" in run.stderr and "I301" in run.stderr and "Traceback" not in run.stderr
    back = subprocess.run(
        [sys.executable, "-m", "langgpt.cli", "compile", str(out), "-t", "markdown", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert back.returncode == 0, back.stderr
    assert normalise(back.stdout) == normalise(src.read_text(encoding="utf-8"))


def test_cli_import_rejects_an_unknown_suffix(tmp_path: Path) -> None:
    src = tmp_path / "in.docx"
    src.write_text("x", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "langgpt.cli", "import", str(src)], capture_output=True, text=True, cwd=ROOT
    )
    assert run.returncode == 2 and "--from" in run.stderr and "Traceback" not in run.stderr
