"""Resource limits: each is a clear diagnostic, never a crash, a hang or unbounded memory. Every test
here fails if its limit is removed (it would see a RecursionError, a very long run, or no error)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import langgpt
from langgpt import loader, parser
from langgpt.fmt import format_source

render_module = sys.modules["langgpt.render"]  # `langgpt.render` is also the name of a function


def codes(fn: object, *args: object, **kwargs: object) -> list[str]:
    try:
        fn(*args, **kwargs)  # type: ignore[operator]
    except langgpt.DiagnosticError as exc:
        return [d.code for d in exc.diagnostics]
    return []


def nested_blocks(depth: int) -> str:
    return "var x: bool = true\nrole R {\n  rules {\n" + "if x {\n" * depth + "- a\n" + "}\n" * depth + "  }\n}\n"


def test_block_nesting_is_bounded() -> None:
    assert codes(langgpt.parse, nested_blocks(parser.MAX_NESTING - 3)) == []
    assert codes(langgpt.parse, nested_blocks(parser.MAX_NESTING + 1)) == ["E121"]
    assert codes(langgpt.parse, nested_blocks(5000)) == ["E121"]  # without the limit: RecursionError


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "var x: bool = true\nrole R {\n  rules {\n    if " + "not " * 5000 + "x {\n      - a\n    }\n  }\n}\n",
            ["E121"],
        ),
        ('var x: bool = true\nrole R {\n  rules "' + "{if x}" * 3000 + "a" + "{end}" * 3000 + '"\n}\n', ["E121"]),
        ("var xs: list[int] = " + "[" * 3000 + "]" * 3000 + "\n", ["E121"]),
        # parentheses collapse in the grammar (no deep tree): it simply parses
        (
            "var x: bool = true\nrole R {\n  rules {\n    if "
            + "(" * 3000
            + "x"
            + ")" * 3000
            + " {\n      - a\n    }\n  }\n}\n",
            [],
        ),
    ],
    ids=["not-chain", "tags-in-a-string", "nested-lists", "parentheses"],
)
def test_deep_non_block_nesting_is_a_diagnostic_not_a_recursion_error(source: str, expected: list[str]) -> None:
    assert codes(langgpt.parse, source) == expected
    assert codes(format_source, source) == expected
    if not expected:
        assert codes(langgpt.compile, langgpt.parse(source)) == []


def test_line_length_is_bounded() -> None:
    ok = "role R {\n  rules {\n    - " + "a" * 1000 + "\n  }\n}\n"
    assert codes(langgpt.parse, ok) == []
    long = "role R {\n  rules {\n    - " + "a" * (parser.MAX_LINE + 10) + "\n  }\n}\n"
    found = []
    try:
        langgpt.parse(long, "long.lgpt")
    except langgpt.DiagnosticError as exc:
        found = [(d.code, d.span.line if d.span else 0) for d in exc.diagnostics]
    assert found == [("E005", 3)]


def test_file_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.lgpt"
    path.write_text("role R {\n  rules {\n" + "    - item\n" * 200 + "  }\n}\n", encoding="utf-8")
    assert codes(langgpt.load, path, tmp_path) == ["E005"]


def test_import_chain_depth_is_bounded(tmp_path: Path) -> None:
    depth = loader.MAX_IMPORT_DEPTH + 5
    for i in range(depth):
        nxt = f'import "m{i + 1}.lgpt"\n' if i + 1 < depth else ""
        (tmp_path / f"m{i}.lgpt").write_text(f'{nxt}var v{i}: text = "x"\n', encoding="utf-8")
    assert "E122" in codes(langgpt.load, tmp_path / "m0.lgpt", tmp_path)


def test_import_count_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_MODULES", 10)
    lines = [f'import "f{i}.lgpt"' for i in range(20)]
    for i in range(20):
        (tmp_path / f"f{i}.lgpt").write_text(f'var v{i}: text = "x"\n', encoding="utf-8")
    (tmp_path / "main.lgpt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert "E122" in codes(langgpt.load, tmp_path / "main.lgpt", tmp_path)


def test_loop_expansion_is_bounded() -> None:
    items = ", ".join(['"a"'] * 300)
    source = (
        f"var xs: list[text] = [{items}]\nrole R {{\n  rules {{\n    for a in xs {{\n      for b in xs {{\n"
        "        for c in xs {\n          - {a}{b}{c}\n        }\n      }\n    }\n  }\n}\n"
    )
    program = langgpt.parse(source)
    start = time.perf_counter()
    assert codes(langgpt.compile, program) == ["E117"]
    assert time.perf_counter() - start < 30, "27 million iterations were not cut short"


def test_output_size_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_module, "MAX_OUTPUT_CHARS", 10_000)
    items = ", ".join([f'"{"x" * 100}"'] * 50)
    source = f"var xs: list[text] = [{items}]\nrole R {{\n  rules {{\n    for a in xs {{\n      for b in xs {{\n        - {{a}}{{b}}\n      }}\n    }}\n  }}\n}}\n"
    assert codes(langgpt.compile, langgpt.parse(source)) == ["E117"]


def test_inheritance_depth_is_bounded() -> None:
    roles = ["role R0 {\n  rules {\n    - a\n  }\n}\n"] + [
        f"role R{i} extends R{i - 1} {{\n  goals {{\n    - g\n  }}\n}}\n" for i in range(1, 80)
    ]
    program = langgpt.parse("".join(roles))
    assert "E114" in codes(langgpt.compile, program, entry="R79")
