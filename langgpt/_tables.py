"""Precomputed LALR tables for the grammar, stored as JSON beside this module.

Building the tables from ``grammar/lgpt.lark`` takes ~65 ms, most of a CLI run, so they ship as JSON
keyed by the grammar's hash (``python -m langgpt._tables`` rewrites them; a test fails when they are
stale). Loading is plain data: no pickle, no code.

JSON turns integer dict keys into strings. Lark's serialised parser has integer keys in exactly
three places (the memo, the parse table's ``tokens``, and its ``states`` with their rows), so those are stored as
``[key, value]`` pairs and rebuilt here; everything else is used as ``json.loads`` returns it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from lark import Lark

FILE = "_tables.json"


def grammar_hash(grammar: str) -> str:
    return hashlib.sha256(grammar.encode("utf-8")).hexdigest()


def _parse_table(data: dict[str, Any]) -> dict[str, Any]:
    table: dict[str, Any] = data["parser"]["parser"]
    return table


def dump(parser: Lark, grammar: str) -> str:
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    data, memo = parser.memo_serialize([TerminalDef, Rule])
    data = json.loads(json.dumps(data))  # a deep copy with tuples as lists; int keys fixed below
    table = _parse_table(data)
    original = _parse_table(parser.memo_serialize([TerminalDef, Rule])[0])
    table["tokens"] = [[k, v] for k, v in original["tokens"].items()]
    table["states"] = [[k, [[t, list(a)] for t, a in row.items()]] for k, row in original["states"].items()]
    payload = {
        "grammar_sha256": grammar_hash(grammar),
        "data": data,
        "memo": [[k, v] for k, v in json.loads(json.dumps(list(memo.items())))],
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True) + "\n"


def load(grammar: str, callbacks: dict[str, Callable[[Any], Any]]) -> Lark | None:
    """The parser from the stored tables, or None when they are missing or stale."""
    try:
        text = resources.files("langgpt").joinpath(FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    payload = json.loads(text)
    if payload.get("grammar_sha256") != grammar_hash(grammar):
        return None
    data = payload["data"]
    table = _parse_table(data)
    table["tokens"] = dict(table["tokens"])
    table["states"] = {k: dict(row) for k, row in table["states"]}
    memo = {k: v for k, v in payload["memo"]}
    loaded: Lark = Lark._load_from_dict(data, memo, lexer_callbacks=callbacks)  # type: ignore[no-untyped-call]
    return loaded


def main() -> None:
    from pathlib import Path

    from langgpt.parser import build_parser, grammar_text

    grammar = grammar_text()
    target = Path(__file__).with_name(FILE)
    target.write_text(dump(build_parser(grammar, with_callbacks=False), grammar), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
