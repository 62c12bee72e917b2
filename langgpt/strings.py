"""Decoding of string literals: quotes, dedent, escapes, and the tags inside text.

Inside a (non-verbatim) string:

* ``{name}`` / ``{name.field}`` interpolate; ``{if c}``/``{elif c}``/``{else}``/``{end}`` and
  ``{for x in xs}``/``{end}`` are control tags; ``{# ... #}`` is a comment;
* a ``{`` not followed by a letter, ``_`` or ``#`` is literal, so JSON such as ``{"a": 1}`` needs no escape;
* ``<Name>`` (a name starting with an upper-case or non-ASCII letter) references a role section or
  profile field and is checked at compile time; ``<div>`` stays literal text;
* escapes: ``\\\\ \\" \\{ \\} \\< \\> \\n \\t``; any other backslash is kept as written.

Triple-quoted strings are dedented: a first line holding only whitespace is dropped, a last line holding
only whitespace is dropped, the common indentation of the remaining non-blank lines (the first line
excluded when text starts right after the quotes) is removed, and whitespace-only lines become empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from langgpt.ast import (
    Condition,
    ForSeg,
    IfSeg,
    InterpSeg,
    RefSeg,
    SegBranch,
    Segment,
    Span,
    Text,
    TextSeg,
)
from langgpt.errors import Diagnostic, DiagnosticError

ConditionParser = Callable[[str, Span], Condition]

_NAME = r"[^\W\d]\w*"
_DOTTED = re.compile(rf"{_NAME}(?:\.{_NAME})*\Z")
_FOR = re.compile(rf"for\s+({_NAME})\s+in\s+({_NAME}(?:\.{_NAME})*)\s*\Z")
_REF = re.compile(r"<([^<>\n{}\s][^<>\n{}]{0,60})>")
_SPECIAL = re.compile(r"[\\{<]")
_ESCAPES = {"\\": "\\", '"': '"', "{": "{", "}": "}", "<": "<", ">": ">", "n": "\n", "t": "\t"}


class _Line(NamedTuple):
    text: str
    line: int
    col: int  # source column of text[0]


class _Piece(NamedTuple):
    kind: str  # text | interp | ref | if | elif | else | end | for
    value: str
    span: Span
    extra: object = None


def decode(
    token_type: str,
    raw: str,
    file: str,
    line: int,
    col: int,
    parse_condition: ConditionParser,
) -> Text:
    """Turn a string token (or unquoted line text) into a ``Text`` node."""
    token_type = text_kind(raw) if token_type == "TEXT" else token_type
    verbatim = token_type.startswith("RAW")
    quote = {"STRING": 1, "LONG_STRING": 3, "RAW_STRING": 1, "RAW_LONG_STRING": 3}.get(token_type, 0)
    prefix = 1 if verbatim else 0
    body = raw[prefix + quote : len(raw) - quote] if quote else raw.rstrip()
    if quote < 3 and "\n" not in body and (verbatim or _SPECIAL.search(body) is None):
        # the common case, a line of plain text: one segment, no scanning
        start = col + prefix + quote
        span = Span(file=file, line=line, col=col, end_line=line, end_col=col + len(raw))
        inner = Span(file=file, line=line, col=start, end_line=line, end_col=start + len(body))
        segments_: tuple[Segment, ...] = (TextSeg(span=inner, text=body),) if body else ()
        return Text(span=span, segments=segments_, literal=raw, verbatim=verbatim)
    lines = _split_lines(body, line, col + prefix + quote)
    if quote == 3:
        lines = _dedent(lines)
    end_line, end_col = _end_of(raw, line, col)
    span = Span(file=file, line=line, col=col, end_line=end_line, end_col=end_col)
    if verbatim:
        text = "\n".join(ln.text for ln in lines)
        segments: tuple[Segment, ...] = (TextSeg(span=span, text=text),) if text else ()
    else:
        pieces = _scan(lines, file, parse_condition)
        segments = _nest(pieces)
    return Text(span=span, segments=segments, literal=raw, verbatim=verbatim)


def text_kind(raw: str) -> str:
    """Which of the four string forms a TEXT token is, from its quotes."""
    if raw.startswith('r"""'):
        return "RAW_LONG_STRING"
    if raw.startswith('r"'):
        return "RAW_STRING"
    if raw.startswith('"""') and len(raw) >= 6:
        return "LONG_STRING"
    return "STRING"


def decode_lines(literal: str) -> list[str]:
    """The lines of a triple-quoted literal after dedent, escapes and tags left as written (the
    formatter re-indents these)."""
    verbatim = literal.startswith("r")
    body = literal[(4 if verbatim else 3) : -3]
    return [ln.text for ln in _dedent(_split_lines(body, 1, 2))]


def plain_value(token_type: str, raw: str) -> str:
    """The value of a string used as data (import paths, descriptions): escapes applied, no tags."""
    token_type = text_kind(raw) if token_type == "TEXT" else token_type
    verbatim = token_type.startswith("RAW")
    quote = 3 if "LONG" in token_type else 1
    prefix = 1 if verbatim else 0
    body = raw[prefix + quote : len(raw) - quote]
    if quote == 3:
        # same dedent as prose (col > 1: the first line starts after the quotes)
        body = "\n".join(ln.text for ln in _dedent(_split_lines(body, 1, 1 + prefix + quote)))
    return body if verbatim else _unescape(body)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text, flags=re.S)


def _end_of(raw: str, line: int, col: int) -> tuple[int, int]:
    newlines = raw.count("\n")
    if not newlines:
        return line, col + len(raw)
    return line + newlines, len(raw) - raw.rfind("\n")


def _split_lines(body: str, line: int, col: int) -> list[_Line]:
    out = []
    for i, text in enumerate(body.split("\n")):
        out.append(_Line(text.rstrip("\r"), line + i, col if i == 0 else 1))
    return out


def _dedent(lines: list[_Line]) -> list[_Line]:
    if len(lines) > 1 and not lines[0].text.strip():
        lines = lines[1:]
    if len(lines) > 1 and not lines[-1].text.strip():
        lines = lines[:-1]
    first_inline = lines and lines[0].col != 1
    candidates = [ln.text for i, ln in enumerate(lines) if ln.text.strip() and not (i == 0 and first_inline)]
    indent = min((len(t) - len(t.lstrip(" \t")) for t in candidates), default=0)
    out = []
    for i, ln in enumerate(lines):
        if not ln.text.strip():
            out.append(_Line("", ln.line, ln.col))
        elif i == 0 and first_inline:
            out.append(ln)
        else:
            out.append(_Line(ln.text[indent:], ln.line, ln.col + indent))
    return out


def _error(
    code: str, message: str, span: Span, expected: str | None = None, hint: str | None = None
) -> DiagnosticError:
    return DiagnosticError([Diagnostic(code, message, span, expected, hint)])


def _scan(lines: list[_Line], file: str, parse_condition: ConditionParser) -> list[_Piece]:
    pieces: list[_Piece] = []
    for index, ln in enumerate(lines):
        if index:
            pieces.append(
                _Piece("text", "\n", Span(file=file, line=ln.line, col=ln.col, end_line=ln.line, end_col=ln.col))
            )
        pieces.extend(_scan_line(ln, file, parse_condition))
    return _merge_text(pieces)


def _scan_line(ln: _Line, file: str, parse_condition: ConditionParser) -> list[_Piece]:
    text, start, i, end = ln.text, 0, 0, len(ln.text)
    out: list[_Piece] = []
    buf: list[str] = []

    def span(a: int, b: int) -> Span:
        return Span(file=file, line=ln.line, col=ln.col + a, end_line=ln.line, end_col=ln.col + b)

    def flush(upto: int) -> None:
        if buf:
            out.append(_Piece("text", "".join(buf), span(start, upto)))
            buf.clear()

    while i < end:
        special = _SPECIAL.search(text, i)
        stop = special.start() if special else end
        if stop > i:  # a run of plain text, taken whole
            if not buf:
                start = i
            buf.append(text[i:stop])
            i = stop
            continue
        ch = text[i]
        nxt = text[i + 1] if i + 1 < end else ""
        if ch == "\\" and nxt:
            if not buf:
                start = i
            buf.append(_ESCAPES.get(nxt, ch + nxt))
            i += 2
        elif ch == "{" and nxt and (nxt.isalpha() or nxt in "_#"):
            flush(i)
            i = _scan_tag(text, i, span, out, parse_condition)
            start = i
        elif ch == "<" and _starts_reference(nxt) and (m := _REF.match(text, i)):
            flush(i)
            out.append(_Piece("ref", m.group(1).strip(), span(i, m.end())))
            i = start = m.end()
        else:
            if not buf:
                start = i
            buf.append(ch)
            i += 1
    flush(end)
    return out


def _starts_reference(ch: str) -> bool:
    """`<Rules>` and `<规则>` are references; `<div>` and `< 3` are text."""
    return ("A" <= ch <= "Z") or (ch >= "\u00c0" and ch.isalpha())


def _scan_tag(
    text: str, i: int, span: Callable[[int, int], Span], out: list[_Piece], parse_condition: ConditionParser
) -> int:
    if text.startswith("{#", i):
        close = text.find("#}", i + 2)
        if close < 0:
            raise _error(
                "E002",
                "unterminated comment in string",
                span(i, i + 2),
                "`#}` closing the `{#` comment on the same line",
            )
        return close + 2
    close = text.find("}", i)
    if close < 0:
        raise _error(
            "E002",
            "unterminated `{` tag in string",
            span(i, len(text)),
            "`}` closing the tag on the same line",
            'write `\\{` for a literal brace, or use a verbatim string r"..."',
        )
    inner = text[i + 1 : close].replace('\\"', '"')  # `{if x == \"a\"}` inside a "..." string
    where = span(i, close + 1)
    word = inner.split(None, 1)[0] if inner.strip() else ""
    rest = inner[len(word) :].strip() if word else ""
    if word in ("if", "elif") and rest:
        inner_span = span(i + 1 + inner.index(rest), close)
        out.append(_Piece(word, rest, where, parse_condition(rest, inner_span)))
    elif inner.strip() in ("else", "end"):
        out.append(_Piece(inner.strip(), "", where))
    elif word == "for":
        m = _FOR.match(inner.strip())
        if not m:
            raise _error("E003", f"invalid loop tag `{{{inner}}}`", where, "`{for NAME in LIST}`")
        out.append(_Piece("for", m.group(2), where, m.group(1)))
    elif _DOTTED.match(inner.strip()):
        out.append(_Piece("interp", inner.strip(), where))
    else:
        raise _error(
            "E003",
            f"invalid tag `{{{inner}}}`",
            where,
            "`{name}`, `{name.field}`, `{if ...}`, `{elif ...}`, `{else}`, `{end}`, `{for x in xs}` or `{# comment #}`",
            'write `\\{` for a literal brace, or use a verbatim string r"..."',
        )
    return close + 1


def _merge_text(pieces: list[_Piece]) -> list[_Piece]:
    merged: list[_Piece] = []
    for p in pieces:
        if p.kind == "text" and merged and merged[-1].kind == "text":
            prev = merged[-1]
            s = prev.span
            merged[-1] = _Piece(
                "text",
                prev.value + p.value,
                Span(file=s.file, line=s.line, col=s.col, end_line=p.span.end_line, end_col=p.span.end_col),
            )
        else:
            merged.append(p)
    return merged


def _nest(pieces: list[_Piece]) -> tuple[Segment, ...]:
    """Build the if/for tree from the flat tag stream; report unbalanced tags."""
    pos = 0

    def block(closers: tuple[str, ...]) -> tuple[list[Segment], _Piece | None]:
        nonlocal pos
        body: list[Segment] = []
        while pos < len(pieces):
            p = pieces[pos]
            pos += 1
            if p.kind in closers:
                return body, p
            if p.kind in ("elif", "else", "end"):
                raise _error(
                    "E003",
                    f"`{{{p.kind}}}` without a matching `{{if}}` or `{{for}}`",
                    p.span,
                    "an open `{if ...}` or `{for ...}` before it",
                )
            body.append(_segment(p, block))
        return body, None

    segments, stray = block(())
    assert stray is None
    return tuple(segments)


def _segment(p: _Piece, block: Callable[[tuple[str, ...]], tuple[list[Segment], _Piece | None]]) -> Segment:
    if p.kind == "text":
        return TextSeg(span=p.span, text=p.value)
    if p.kind == "interp":
        return InterpSeg(span=p.span, name=p.value)
    if p.kind == "ref":
        return RefSeg(span=p.span, name=p.value)
    if p.kind == "for":
        body, closer = block(("end",))
        if closer is None:
            raise _error("E002", "`{for}` is never closed", p.span, "`{end}` closing the loop")
        return ForSeg(span=_join(p.span, closer.span), var=str(p.extra), iterable=p.value, body=tuple(body))
    return _if_segment(p, block)


def _if_segment(p: _Piece, block: Callable[[tuple[str, ...]], tuple[list[Segment], _Piece | None]]) -> Segment:
    branches: list[SegBranch] = []
    opener: _Piece = p
    condition: Condition | None = p.extra  # type: ignore[assignment]
    while True:
        closers = ("elif", "else", "end") if condition is not None else ("end",)
        body, closer = block(closers)
        branches.append(SegBranch(span=opener.span, condition=condition, body=tuple(body)))
        if closer is None:
            raise _error("E002", "`{if}` is never closed", p.span, "`{end}` closing the condition")
        if closer.kind == "end":
            return IfSeg(span=_join(p.span, closer.span), branches=tuple(branches))
        opener = closer
        condition = closer.extra if closer.kind == "elif" else None  # type: ignore[assignment]


def _join(a: Span, b: Span) -> Span:
    return Span(file=a.file, line=a.line, col=a.col, end_line=b.end_line, end_col=b.end_col)
