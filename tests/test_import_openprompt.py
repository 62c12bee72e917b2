"""The OpenPrompt importer: template strings -> .lgpt that compiles to the same prompt text."""

from __future__ import annotations

import builtins
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT

import langgpt
from langgpt import ast
from langgpt.errors import DiagnosticError
from langgpt.importers import import_text as import_any
from langgpt.importers.openprompt import import_text

FIXTURE = "tests/fixtures/openprompt/sentiment.openprompt"
LGPT = Path(sys.executable).parent / "lgpt"
MODULES = ("langgpt/importers/openprompt.py", "langgpt/importers/promptsource.py")
VALUES = {
    "text_a": "Great film.",
    "premise": "The phone died.",
    "hypothesis": "The battery is good",
    "text_b": "Cheap case",
}


def imported() -> langgpt.Program:
    result = import_text((REPO_ROOT / FIXTURE).read_text(encoding="utf-8"), FIXTURE)
    return langgpt.parse(result.source, "imported.lgpt")


def problems(text: str) -> list[tuple[str, int, int]]:
    """(code, line, col) of every diagnostic an import of ``text`` fails with."""
    with pytest.raises(DiagnosticError) as info:
        import_text(text, "bad.openprompt")
    return [(d.code, d.span.line, d.span.col) for d in info.value.diagnostics if d.span is not None]


def test_fixture_compiles_without_errors() -> None:
    program = imported()
    assert [d for d in langgpt.check(program) if d.is_error] == []
    assert langgpt.entries(program) == [f"openprompt_{n}" for n in range(1, 8)]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("openprompt_1", "Great film. It was [ANSWER]."),
        ("openprompt_2", "The phone died. Question: The battery is good? Answer:"),  # a final slot is removed
        ("openprompt_3", "Great film."),  # soft tokens take no room in the text
        ("openprompt_4", "Great film. [ANSWER] ."),
        ("openprompt_5", "Great film. In short, the product is [ANSWER]."),
        ("openprompt_6", 'Review: Great film. Verdict: [ANSWER] (answer "great" or "terrible")'),
        ("openprompt_7", "<Rating> for Cheap case: [ANSWER] {stars} \\o/"),
    ],
)
def test_templates_compile_to_openprompt_text(entry: str, expected: str) -> None:
    program = imported()
    used = {k: v for k, v in VALUES.items() if any(d.name == k for d in program.document.decls)}
    assert langgpt.compile(program, variables=used, entry=entry).output == expected


def test_answer_fills_the_mask() -> None:
    result = langgpt.compile(imported(), variables={"text_a": "Great film."}, entry="openprompt_1", answer="great")
    assert result.output == "Great film. It was great."


def test_generated_declarations() -> None:
    source = import_text((REPO_ROOT / FIXTURE).read_text(encoding="utf-8"), FIXTURE).source
    assert 'var text_a: text "OpenPrompt placeholder text_a"' in source
    assert 'var premise: text "OpenPrompt meta field premise"' in source
    assert 'template openprompt_1 """{text_a} It was {answer}."""' in source
    assert source == langgpt.fmt.format_source(source)  # already in the canonical layout


def test_soft_tokens_become_soft_prompt_blocks() -> None:
    blocks = {b.name: b for b in imported().document.decls if isinstance(b, ast.ConfigBlock)}
    assert sorted(blocks) == ["openprompt_3_soft", "openprompt_4_soft", "openprompt_7_soft"]

    def settings(name: str) -> dict[str, str]:
        return {s.key: ", ".join(langgpt.fmt.value_text(v) for v in s.values) for s in blocks[name].settings}

    assert settings("openprompt_3_soft") == {"method": "prompt_tuning", "tokens": "2", "init": "random(seed=0)"}
    assert settings("openprompt_4_soft") == {
        "method": "prompt_tuning",
        "tokens": "5",
        "init": 'words("All in all, it was")',
    }
    assert settings("openprompt_7_soft")["tokens"] == "4"  # {"soft": None, "duplicate": 4}
    assert all(b.kind == "soft_prompt" for b in blocks.values())


def test_mixed_soft_inits_keep_one_init_per_group() -> None:
    source = import_text('{"soft": "It was"} {"soft"} {"mask"}', "x.openprompt").source
    assert 'init: words("It was"), random(seed=0)' in source
    assert "tokens: 3" in source


def test_notes_name_what_was_created_with_lines() -> None:
    notes = import_text((REPO_ROOT / FIXTURE).read_text(encoding="utf-8"), FIXTURE).notes
    by_code: dict[str, list[str]] = {}
    for note in notes:
        by_code.setdefault(note.code, []).append(f"{note.span.line if note.span else 0}: {note.message}")
    assert set(by_code) == {"I301", "W301"}
    assert "4: variable `text_a` from OpenPrompt placeholder `text_a` (line(s) 4, 6, 7, 9, 10)" in by_code["I301"]
    assert "4: template `openprompt_1` from line 4: variables text_a; one answer slot" in by_code["I301"]
    assert any(m.startswith("11: template `openprompt_7` from line 11") for m in by_code["I301"])
    assert any("shortenable" in m and m.startswith("7:") for m in by_code["I301"])
    assert any("soft_prompt `openprompt_3_soft`" in m and m.startswith("6:") for m in by_code["I301"])
    assert len(by_code["W301"]) == 1 and "`text_a`, `premise`, `hypothesis`, `text_b`" in by_code["W301"][0]


def test_python_spellings_are_read_as_data() -> None:
    source = import_text("{'placeholder': 'text_a', 'shortenable': True} {'mask'}", "x.openprompt").source
    assert 'template openprompt_1 """{text_a} {answer}"""' in source


def test_reserved_names_are_renamed() -> None:
    source = import_text('{"placeholder": "answer"} {"meta": "answer"} {"meta": "if"} {"mask"}', "x.openprompt").source
    assert '"""{answer_field} {meta_answer} {if_field} {answer}"""' in source
    program = langgpt.parse(source, "x.lgpt")
    assert [d for d in langgpt.check(program) if d.is_error] == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"placeholder":"text_a", "post_processing": lambda x: x.lower()} {"mask"}', [("E302", 1, 1)]),
        ('It was {"mask"}. {"text": "literal", "post_processing": "lambda x: x.lower()"}', [("E302", 1, 18)]),
        ('{"placeholder": __import__("os").system("true")}', [("E302", 1, 1)]),
        ('{"special": "<eos>"} {"mask"}', [("E302", 1, 1)]),
        ('{"placeholder": "text_a"} {"soft_id": 1}', [("E302", 1, 27)]),
        ('{"placeholder": "text_a"} {"mask": "x"}', [("E302", 1, 27)]),
        ('{"placeholder": "text_a"} It was {"mask"', [("E301", 1, 34)]),
        ('{"text": "unterminated}', [("E301", 1, 10)]),
    ],
)
def test_unsupported_groups_are_reported_at_their_column(line: str, expected: list[tuple[str, int, int]]) -> None:
    assert problems(line) == expected


def test_every_bad_line_is_reported() -> None:
    text = '# comment\n{"placeholder":"text_a"} {"mask"}\n\n  {"meta": "m", "post_processing": lambda s: s}\n{"x"} y\n'
    assert problems(text) == [("E302", 4, 3), ("E302", 5, 1)]


def test_empty_input_is_e301() -> None:
    with pytest.raises(DiagnosticError) as info:
        import_text("# only a comment\n\n", "empty.openprompt")
    assert [d.code for d in info.value.diagnostics] == ["E301"]


def test_groups_are_never_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    import_text((REPO_ROOT / FIXTURE).read_text(encoding="utf-8"), FIXTURE)
    assert problems('{"placeholder": "text_a", "post_processing": lambda x: x}') == [("E302", 1, 1)]


@pytest.mark.parametrize("module", MODULES)
def test_importers_never_call_eval_or_exec(module: str) -> None:
    code = (REPO_ROOT / module).read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w.])(eval|exec)\s*\(", code)
    assert "__import__" not in code and "builtins" not in code
    assert not re.search(r"yaml\.(unsafe_load|full_load|load)\s*\(|Loader=yaml\.(Loader|FullLoader|UnsafeLoader)", code)


def test_import_dispatch_by_format() -> None:
    text = (REPO_ROOT / FIXTURE).read_text(encoding="utf-8")
    assert import_any(text, FIXTURE, "openprompt") == import_text(text, FIXTURE)


def _lgpt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LGPT_DEBUG"}
    env["NO_COLOR"] = "1"
    command = [str(LGPT)] if LGPT.exists() else [sys.executable, "-m", "langgpt.cli"]
    return subprocess.run(
        [*command, *args], cwd=REPO_ROOT, capture_output=True, text=True, encoding="utf-8", env=env, timeout=60
    )


def test_cli_imports_openprompt_file() -> None:
    run = _lgpt("import", FIXTURE, "--from", "openprompt")
    assert run.returncode == 0, run.stderr
    assert run.stdout == import_text((REPO_ROOT / FIXTURE).read_text(encoding="utf-8"), FIXTURE).source
    assert "note[I301]" in run.stderr and "warning[W301]" in run.stderr


def test_cli_txt_file_with_from_openprompt(tmp_path: Path) -> None:
    path = tmp_path / "templates.txt"
    path.write_text('{"placeholder":"text_a"} It was {"mask"}.\n', encoding="utf-8")
    out = tmp_path / "out.lgpt"
    run = _lgpt("import", str(path), "--from", "openprompt", "-o", str(out))
    assert run.returncode == 0, run.stderr
    result = langgpt.compile(langgpt.load(out), variables={"text_a": "Great film."})
    assert result.output == "Great film. It was [ANSWER]."


def test_cli_bad_input_exits_1_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.openprompt"
    path.write_text(
        '{"placeholder":"text_a"} It was {"mask"}.\n{"placeholder":"text_a", "post_processing": lambda x: x}\n'
    )
    run = _lgpt("import", str(path))
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    assert "error[E302]" in run.stderr and "bad.openprompt:2:1" in run.stderr
    assert run.stdout == ""
