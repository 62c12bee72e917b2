"""A faster start for Lark's contextual lexer.

Lark's contextual lexer keeps one scanner per parser state and, on first use, compiles one big
alternation regex per state (plus one per keyword set): ~0.25 ms each, 10+ ms of a 150 ms CLI run.
Here each terminal's regex is compiled once and shared by every state, and keywords are a dict
lookup. Matching keeps Lark's semantics exactly: terminals are tried in the lexer's own priority
order and the first that matches wins (as in a regex alternation). ``tests/test_parser.py`` checks
that both lexers give identical trees for every example.
"""

from __future__ import annotations

import re
from types import MethodType
from typing import Any

from lark import Lark, Token
from lark.lexer import BasicLexer, CallChain, PatternRE, PatternStr, TerminalDef

_COMPILED: dict[str, re.Pattern[str]] = {}


def install(parser: Lark) -> None:
    """Make every state lexer of ``parser`` build its scanner the fast way."""
    lexers = getattr(getattr(parser.parser, "lexer", None), "lexers", None)
    if not isinstance(lexers, dict):
        return  # not the contextual lexer this was written for: keep Lark's own
    for lexer in {id(x): x for x in lexers.values()}.values():
        if isinstance(lexer, BasicLexer) and lexer._scanner is None:
            lexer._build_scanner = MethodType(_build_scanner, lexer)  # type: ignore[method-assign]


def _compiled(term: TerminalDef, flags: int) -> re.Pattern[str]:
    key = f"{flags}:{term.pattern.to_regexp()}"
    pattern = _COMPILED.get(key)
    if pattern is None:
        pattern = _COMPILED[key] = re.compile(term.pattern.to_regexp(), flags)
    return pattern


class _Keywords:
    """Turns a NAME-like token into the keyword token it spells (Lark's UnlessCallback)."""

    def __init__(self, words: dict[str, str]) -> None:
        self.words = words

    def __call__(self, token: Token) -> Token:
        kind = self.words.get(str(token))
        if kind is not None:
            token.type = kind
        return token


class _Scanner:
    def __init__(self, terminals: list[TerminalDef], flags: int) -> None:
        self.terminals = terminals
        self.allowed_types = {t.name for t in terminals}
        self._patterns = [(_compiled(t, flags), t.name) for t in terminals]

    def match(self, text: Any, pos: int) -> tuple[str, str] | None:
        for pattern, name in self._patterns:
            m = pattern.match(text.text, pos, text.end)
            if m:
                return m.group(0), name
        return None


def _build_scanner(self: BasicLexer) -> _Scanner:
    strings = [t for t in self.terminals if isinstance(t.pattern, PatternStr)]
    callbacks: dict[str, Any] = {}
    embedded: set[str] = set()
    for term in self.terminals:
        if not isinstance(term.pattern, PatternRE):
            continue
        regex = _compiled(term, self.g_regex_flags)
        words = {}
        for word in strings:
            value = word.pattern.value
            m = regex.match(value)
            if word.priority == term.priority and m is not None and m.group(0) == value:
                words[value] = word.name
                if set(word.pattern.flags) <= set(term.pattern.flags):
                    embedded.add(word.name)
        if words:
            callbacks[term.name] = _Keywords(words)
    for kind, func in self.user_callbacks.items():
        if kind in callbacks:
            callbacks[kind] = CallChain(callbacks[kind], func, lambda t, kind=kind: t.type == kind)  # type: ignore[no-untyped-call]
        else:
            callbacks[kind] = func
    self.callback = callbacks
    return _Scanner([t for t in self.terminals if t.name not in embedded], self.g_regex_flags)
