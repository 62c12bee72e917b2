"""The shipped LALR tables and the fast lexer must behave exactly like Lark built from the grammar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lark import Lark
from lark.exceptions import UnexpectedInput

from langgpt import _tables
from langgpt.parser import build_parser, get_parser, grammar_text

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(ROOT.glob("prompts/**/*.lgpt"))


def test_shipped_tables_match_the_grammar() -> None:
    # Lark numbers states in set-iteration order, so the bytes vary with PYTHONHASHSEED; the hash of
    # the grammar they were built from is what must match (equivalence is checked below).
    shipped = json.loads((ROOT / "langgpt" / _tables.FILE).read_text(encoding="utf-8"))
    assert shipped["grammar_sha256"] == _tables.grammar_hash(grammar_text()), (
        "langgpt/_tables.json is stale: run `make tables`"
    )
    assert _tables.load(grammar_text(), {}) is not None


def test_stale_tables_are_ignored() -> None:
    assert _tables.load(grammar_text() + "\n// edited", {}) is None


def _outcome(parser: Lark, text: str) -> object:
    try:
        return parser.parse(text, start="start")
    except UnexpectedInput as exc:
        return (type(exc).__name__, exc.line, exc.column)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_fast_lexer_gives_the_same_tree_as_lark(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert _outcome(get_parser(), text) == _outcome(build_parser(grammar_text()), text)


@pytest.mark.parametrize(
    "text",
    [
        'lgpt 1\nrole R {\n  rules {\n    - a "quoted" word # not a comment\n    1. numbered\n  }\n}\n',
        "lgpt 1\nvar label: label {negative, positive}\nvar x: int = -3\n",
        "lgpt 1\ntrain { lr: 2e-5 epochs: 3 metrics: [accuracy, macro_f1] init: text(R) r: random(seed=3) }\n",
        "lgpt 1\nrole R {\n  rules { - unterminated }\n",
        'lgpt 1\nrole R {\n  profile {\n    作者："某人"\n  }\n}\n',
    ],
)
def test_fast_lexer_matches_on_tricky_tokens(text: str) -> None:
    assert _outcome(get_parser(), text) == _outcome(build_parser(grammar_text()), text)
