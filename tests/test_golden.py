"""Golden output of every example: each entry (template or role of the main file) to ``text`` and
``messages``, plus the ``ast`` of each file.

Golden files live in tests/golden/ and are named ``<path under prompts, / as __>_<entry>.<target>.<ext>``
(``.md`` for text, ``.json`` for messages and ast). Regenerate with ``pytest tests/test_golden.py --force-regen``
and review the diff before committing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import REPO_ROOT, example_files, vars_for

import langgpt

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
EXTENSIONS = {"text": ".md", "messages": ".json", "ast": ".json"}


@pytest.fixture(scope="module")
def original_datadir() -> Path:
    """pytest-regressions reads and writes golden files here (instead of tests/test_golden/)."""
    return GOLDEN_DIR


def golden_stem(path: str) -> str:
    """``prompts/roles/poet.lgpt`` -> ``roles__poet``."""
    rel = Path(path).relative_to("prompts").with_suffix("")
    return "__".join(rel.parts)


def _cases() -> list[pytest.param]:
    cases = []
    for path in example_files():
        program = langgpt.load(REPO_ROOT / path)
        names = langgpt.entries(program)
        assert names, f"{path} has nothing to compile"
        for entry in names:
            for target in ("text", "messages"):
                cases.append(pytest.param(path, entry, target, id=f"{golden_stem(path)}-{entry}-{target}"))
    return cases


CASES = _cases()


def test_every_example_has_cases() -> None:
    files = {c.values[0] for c in CASES}
    assert files == set(example_files())
    assert len(files) >= 6
    # every file yields both targets for every entry
    assert len(CASES) % 2 == 0


@pytest.mark.parametrize(("path", "entry", "target"), CASES)
def test_golden_entry(path: str, entry: str, target: str, file_regression) -> None:
    program = langgpt.load(path)
    result = langgpt.compile(program, target, vars_for(path), entry=entry)
    assert result.target == target
    assert result.entry == entry
    assert result.output, "empty output"
    assert "\0" not in result.output, "answer-slot sentinel leaked into the output"
    if target == "messages":
        messages = json.loads(result.output)
        assert isinstance(messages, list) and messages
        assert all(set(m) == {"role", "content"} for m in messages)
        assert all(m["role"] in ("system", "user", "assistant") for m in messages)
        assert result.output.endswith("\n")
    else:
        assert "{" + "answer}" not in result.output
    file_regression.check(
        result.output,
        basename=f"{golden_stem(path)}_{entry}.{target}",
        extension=EXTENSIONS[target],
        newline="\n",
    )


@pytest.mark.parametrize(("path", "entry", "target"), CASES)
def test_compile_is_deterministic(path: str, entry: str, target: str) -> None:
    """Two compilations (fresh loads each time) give identical bytes."""
    first = langgpt.compile(langgpt.load(path), target, vars_for(path), entry=entry).output
    second = langgpt.compile(langgpt.load(path), target, vars_for(path), entry=entry).output
    assert first.encode("utf-8") == second.encode("utf-8")


@pytest.mark.parametrize("path", example_files(), ids=golden_stem)
def test_golden_ast(path: str, file_regression) -> None:
    result = langgpt.compile(langgpt.load(path), "ast")
    assert result.entry is None
    document = json.loads(result.output)
    assert document["kind"] == "document"
    assert document["path"] == path  # spans use cwd-relative paths
    file_regression.check(result.output, basename=f"{golden_stem(path)}.ast", extension=".json", newline="\n")


@pytest.mark.parametrize("path", example_files(), ids=golden_stem)
def test_ast_is_deterministic(path: str) -> None:
    first = langgpt.compile(langgpt.load(path), "ast").output
    second = langgpt.compile(langgpt.load(path), "ast").output
    assert first == second


@pytest.mark.parametrize("path", example_files(), ids=golden_stem)
def test_examples_check_clean(path: str) -> None:
    """The shipped examples have no errors and no warnings."""
    assert langgpt.check(langgpt.load(path)) == []


def test_no_stray_golden_files() -> None:
    """Every golden file belongs to a current case (catches goldens left behind by renames)."""
    expected = {f"{golden_stem(p)}_{e}.{t}{EXTENSIONS[t]}" for p, e, t in (c.values for c in CASES)}
    expected |= {f"{golden_stem(p)}.ast.json" for p in example_files()}
    present = {p.name for p in GOLDEN_DIR.iterdir() if p.is_file()} if GOLDEN_DIR.exists() else set()
    assert present == expected
