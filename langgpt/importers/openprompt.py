"""OpenPrompt template strings -> .lgpt.

Input: one OpenPrompt template per line (a ``.openprompt`` file, or any text file with
``--from openprompt``); blank lines and lines starting with ``#`` are skipped. A template mixes
literal text with ``{...}`` groups::

    {"placeholder":"text_a"} It was {"mask"}.
    {"meta":"premise"} Question: {"meta":"hypothesis"}? {"mask"}
    {"soft"} {"soft": "It was"} {"placeholder": "text_a", "shortenable": true} {"mask"}

OpenPrompt reads each group with Python's ``eval``. This importer never does: a scanner finds the
balanced ``{...}`` groups (quoted strings, with their escapes, may hold braces), and each group is read
with ``json.loads`` after a conversion that only touches Python spellings JSON lacks: single-quoted
strings, ``True`` / ``False`` / ``None``, and the set form ``{"mask"}``. Any other Python (a
``lambda``, a call, an attribute) is refused with E302 at that group; nothing is ever evaluated.

What each group becomes:

| group | .lgpt |
| --- | --- |
| ``{"placeholder": "text_a"}``, ``{"meta": "premise"}`` | a ``var NAME: text`` and ``{NAME}`` in the text |
| ``{"mask"}`` | the answer slot ``{answer}`` |
| ``{"text": "words"}`` | the words, as literal text |
| ``{"soft"}``, ``{"soft": "init words"}``, ``{"soft": null, "duplicate": 20}`` | a ``soft_prompt openprompt_N_soft`` block (soft tokens cannot live in a text template) |
| ``"shortenable": true`` | a note: truncation policies are not part of the language yet |
| ``"add_prefix_space": " "`` / ``""`` | the space before the piece |
| ``"post_processing"``, ``"soft_id"``, ``"special"``, other keys | E302 |

Spacing follows OpenPrompt's ``parse_text``: spaces before a piece collapse to one space, and literal
text loses its trailing spaces. Soft tokens take no room in the text. A malformed group (an unclosed
``{``, a string that does not end) is E301; the whole import fails with every problem listed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from langgpt.ast import Span
from langgpt.errors import Diagnostic, DiagnosticError
from langgpt.fmt import KEYWORDS, format_source, quote
from langgpt.importers import ImportResult
from langgpt.strings import decode_lines

#: Names that cannot be a variable of an imported template: keywords of the grammar, the words of
#: text tags (``{end}``, ``{else}``) and conditions, and ``answer`` (the answer slot).
RESERVED = KEYWORDS | {"end", "answer"}
_IDENT = re.compile(r"[^\W\d]\w*\Z")


# ----------------------------------------------------------------------------- shared .lgpt helpers


def escape_text(text: str) -> str:
    """Literal text for a non-raw .lgpt string: backslashes, quotes and braces escaped, and a ``<``
    that would start a ``<Reference>``."""
    out: list[str] = []
    for index, ch in enumerate(text):
        if ch in '\\"{}':
            out.append("\\" + ch)
        elif ch == "<" and index + 1 < len(text) and _starts_reference(text[index + 1]):
            out.append("\\<")
        else:
            out.append(ch)
    return "".join(out)


def _starts_reference(ch: str) -> bool:
    """The rule of langgpt/strings.py: ``<Rules>`` and ``<规则>`` are references, ``<div>`` is text."""
    return ("A" <= ch <= "Z") or (ch >= "\u00c0" and ch.isalpha())


def text_literal(body: str) -> str:
    """A triple-quoted string holding ``body`` (already escaped, tags included) exactly.

    Multi-line bodies keep their line breaks when the string's dedent rules give the lines back
    unchanged; otherwise (indented lines, blank first or last line) the body is written on one line
    with ``\\n`` escapes, which dedent does not touch."""
    if "\n" in body:
        literal = '"""' + body + '"""'
        if "\n".join(decode_lines(literal)) == body:
            return literal
    return '"""' + body.replace("\n", "\\n").replace("\t", "\\t") + '"""'


def slug(text: str, lower: bool = False) -> str:
    """A valid .lgpt name from any text: runs of non-word characters become ``_``."""
    name = re.sub(r"\W+", "_", text.strip().lower() if lower else text.strip()).strip("_")
    if not name:
        return "t"
    return name if _IDENT.match(name) else f"t_{name}"


def variable_name(raw: str) -> str:
    """The variable for an input field: the field's name when it is a valid, unreserved name."""
    name = slug(raw)
    return f"{name}_field" if name in RESERVED else name


class Names:
    """The names of one generated file (variables, templates and blocks share one namespace)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, wanted: str) -> str:
        name, n = wanted, 2
        while name in self.taken or name in RESERVED:
            name = f"{wanted}_{n}"
            n += 1
        self.taken.add(name)
        return name


def line_span(path: str, line: int, col: int, end_col: int) -> Span:
    return Span(file=path, line=line, col=col, end_line=line, end_col=max(end_col, col + 1))


# ----------------------------------------------------------------------------- reading groups


class _Problem(Exception):
    """A problem with one group: its code, message, columns (0-based, end exclusive) and a hint."""

    def __init__(self, code: str, message: str, start: int, end: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.start, self.end, self.hint = code, message, start, end, hint


@dataclass
class _Piece:
    kind: str  # text | placeholder | meta | mask | soft
    value: str  # literal text, the field name, or the soft prompt's init words ("" for none)
    prefix: str  # the space OpenPrompt puts before the piece
    start: int  # 0-based columns of the piece in its line, end exclusive
    end: int
    count: int = 1  # soft tokens
    shortenable: bool = False


_KINDS = ("placeholder", "meta", "mask", "soft", "text")
_EXTRA = {
    "placeholder": {"shortenable", "add_prefix_space"},
    "meta": {"shortenable", "add_prefix_space"},
    "text": {"shortenable", "add_prefix_space"},
    "mask": {"add_prefix_space"},
    "soft": {"duplicate", "add_prefix_space"},
}
_WORD = re.compile(r"[A-Za-z_]\w*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null", "true": "true", "false": "false", "null": "null"}


def group_end(line: str, start: int) -> int:
    """The index of the ``}`` closing the group that opens at ``line[start]``, quoted strings (with
    their backslash escapes) skipped. Raises _Problem (E301) when it is not closed."""
    depth, i = 0, start
    while i < len(line):
        ch = line[i]
        if ch in "\"'":
            i = _string_end(line, i)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise _Problem(
        "E301",
        f"`{{` at column {start + 1} is never closed",
        start,
        len(line),
        "close the group with `}` on the same line",
    )


def _string_end(line: str, start: int) -> int:
    """The index just after the quoted string that starts at ``line[start]``."""
    quote_char, i = line[start], start + 1
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == quote_char:
            return i + 1
        i += 1
    raise _Problem("E301", "unterminated string in a `{...}` group", start, len(line), f"end it with {quote_char}")


def group_data(line: str, start: int, end: int) -> dict[str, object]:
    """Read the group ``line[start:end]`` (braces included) as data, without evaluating it."""
    inner_start, inner_end = start + 1, end - 1
    parts: list[str] = []
    depth = 0
    top_colon = False
    i = inner_start
    while i < inner_end:
        ch = line[i]
        if ch.isspace():
            parts.append(ch)
            i += 1
        elif ch in "\"'":
            stop = _string_end(line, i)
            parts.append(_json_string(line[i:stop], start, end))
            i = stop
        elif (word := _WORD.match(line, i)) is not None:
            if word.group() not in _PYTHON_WORDS:
                raise _Problem(
                    "E302",
                    f"`{word.group()}` in an OpenPrompt group is Python code; lgpt never evaluates it",
                    start,
                    end,
                    "keep to JSON-like data: strings, numbers, true/false/null",
                )
            parts.append(_PYTHON_WORDS[word.group()])
            i = word.end()
        elif (number := _NUMBER.match(line, i)) is not None:
            parts.append(number.group())
            i = number.end()
        elif ch in "{[":
            depth += 1
            parts.append(ch)
            i += 1
        elif ch in "}]":
            depth -= 1
            parts.append(ch)
            i += 1
        elif ch in ":,":
            top_colon = top_colon or (ch == ":" and depth == 0)
            parts.append(ch)
            i += 1
        else:
            raise _Problem(
                "E302",
                f"unexpected `{ch}` in an OpenPrompt group (Python expressions are not read)",
                start,
                end,
                "keep to JSON-like data: strings, numbers, true/false/null",
            )
    body = "".join(parts)
    try:
        value = json.loads("{" + body + "}" if top_colon else "[" + body + "]")
    except json.JSONDecodeError as exc:
        raise _Problem(
            "E302",
            f"cannot read the group `{line[start:end]}`: {exc.msg}",
            start,
            end,
            'write it like {"placeholder": "text_a"} or {"mask"}',
        ) from None
    if isinstance(value, list):  # the set form {"mask"}: keys without values
        if not all(isinstance(k, str) for k in value):
            raise _Problem("E302", f"cannot read the group `{line[start:end]}`", start, end)
        return dict.fromkeys(value)
    if not isinstance(value, dict):
        raise _Problem("E302", f"cannot read the group `{line[start:end]}`", start, end)
    return value


def _json_string(literal: str, start: int, end: int) -> str:
    """A JSON string token for a Python string literal: ``\\'`` loses its backslash, and a ``"``
    inside a single-quoted string gains one. Other escapes are JSON's own (json.loads checks them)."""
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append("'" if body[i + 1] == "'" else body[i : i + 2])
            i += 2
            continue
        out.append('\\"' if ch == '"' else ch)
        i += 1
    return '"' + "".join(out) + '"'


def _piece(data: dict[str, object], prefix: str, start: int, end: int, group: str) -> _Piece:
    kinds = [k for k in _KINDS if k in data]
    if "post_processing" in data:
        raise _Problem(
            "E302",
            "`post_processing` runs Python code on the value; lgpt does not import it",
            start,
            end,
            "clean the data before compiling, and remove post_processing",
        )
    if len(kinds) != 1:
        found = ", ".join(f"`{k}`" for k in data) or "nothing"
        raise _Problem(
            "E302",
            f"unsupported OpenPrompt group `{group}` (keys: {found})",
            start,
            end,
            "supported: placeholder, meta, mask, soft and text groups",
        )
    kind = kinds[0]
    extra = set(data) - {kind} - _EXTRA[kind]
    if extra:
        names = ", ".join(f"`{k}`" for k in sorted(extra))
        raise _Problem(
            "E302",
            f"unsupported key(s) {names} in a `{kind}` group",
            start,
            end,
            f"a `{kind}` group may also have: {', '.join(sorted(_EXTRA[kind]))}",
        )
    value = data[kind]
    space = data.get("add_prefix_space", prefix)
    if space not in (" ", ""):
        raise _Problem("E302", '`add_prefix_space` must be " " or ""', start, end)
    shortenable = data.get("shortenable", False)
    if not isinstance(shortenable, bool):
        raise _Problem("E302", "`shortenable` must be true or false", start, end)
    assert isinstance(space, str)
    if kind == "mask":
        if value is not None:
            raise _Problem("E302", 'a mask group takes no value: write {"mask"}', start, end)
        return _Piece("mask", "", space, start, end)
    if kind == "soft":
        duplicate = data.get("duplicate", 1)
        words = value if isinstance(value, str) else ""
        if value is not None and not isinstance(value, str):
            raise _Problem("E302", "a soft group's value must be its init words or null", start, end)
        if not isinstance(duplicate, int) or isinstance(duplicate, bool) or duplicate < 1:
            raise _Problem("E302", "`duplicate` must be a positive integer", start, end)
        if duplicate != 1 and words.strip():
            raise _Problem("E302", "`duplicate` with init words is not supported", start, end)
        count = len(words.split()) if words.strip() else duplicate
        return _Piece("soft", " ".join(words.split()), space, start, end, count=count)
    if not isinstance(value, str) or (kind != "text" and not value.strip()):
        raise _Problem("E302", f"a `{kind}` group needs a string value", start, end)
    return _Piece(kind, value, space, start, end, shortenable=shortenable)


def parse_line(line: str) -> list[_Piece]:
    """The pieces of one template, following OpenPrompt's ``parse_text`` spacing rules."""
    pieces: list[_Piece] = []
    i, n = 0, len(line)
    while i < n:
        prefix = " " if i > 0 and line[i - 1] == " " else ""
        while i < n and line[i] == " ":
            prefix = " "
            i += 1
        if i == n:
            break
        if line[i] != "{":
            j = line.find("{", i)
            j = n if j < 0 else j
            pieces.append(_Piece("text", line[i:j].rstrip(" "), prefix, i, j))
            i = j
            continue
        j = group_end(line, i) + 1
        pieces.append(_piece(group_data(line, i, j), prefix, i, j, line[i:j]))
        i = j
    return pieces


# ----------------------------------------------------------------------------- writing .lgpt


@dataclass
class _Var:
    name: str
    kind: str  # placeholder | meta
    source: str  # the placeholder or meta name as written
    lines: list[int] = field(default_factory=list)


def _body(pieces: list[_Piece], variables: dict[tuple[str, str], _Var]) -> str:
    """The template text: literal runs escaped, placeholders as {name}, the mask as {answer}."""
    out: list[str] = []
    literal: list[str] = []
    after_soft = False

    def flush() -> None:
        if literal:
            out.append(escape_text("".join(literal)))
            literal.clear()

    for piece in pieces:
        if piece.kind == "soft":
            after_soft = True
            continue
        prefix = "" if (after_soft and not out and not literal) else piece.prefix
        after_soft = False
        if piece.kind == "text":
            literal.append(prefix + piece.value)
            continue
        literal.append(prefix)
        flush()
        out.append("{answer}" if piece.kind == "mask" else "{" + variables[(piece.kind, piece.value)].name + "}")
    flush()
    return "".join(out)


def import_text(text: str, path: str) -> ImportResult:
    """Import OpenPrompt templates, one per line. Raises DiagnosticError (E301/E302) on bad input."""
    names = Names()
    problems: list[Diagnostic] = []
    parsed: list[tuple[int, str, list[_Piece]]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            parsed.append((number, line, parse_line(line)))
        except _Problem as problem:
            problems.append(
                Diagnostic(
                    problem.code,
                    problem.message,
                    line_span(path, number, problem.start + 1, problem.end + 1),
                    None,
                    problem.hint,
                )
            )
    if problems:
        raise DiagnosticError(problems)
    if not parsed:
        raise DiagnosticError(
            [
                Diagnostic(
                    "E301",
                    "no OpenPrompt template found",
                    None,
                    'one template per line, such as {"placeholder":"text_a"} It was {"mask"}.',
                )
            ]
        )

    # Variables first: they keep their field names; templates and blocks take the names left.
    variables: dict[tuple[str, str], _Var] = {}
    for number, _, pieces in parsed:
        for piece in pieces:
            if piece.kind in ("placeholder", "meta"):
                key = (piece.kind, piece.value)
                if key not in variables:
                    wanted = variable_name(piece.value)
                    if piece.kind == "meta" and ("placeholder", piece.value) in variables:
                        wanted = variable_name(f"meta_{piece.value}")
                    variables[key] = _Var(names.claim(wanted), piece.kind, piece.value)
                if number not in variables[key].lines:
                    variables[key].lines.append(number)

    notes: list[Diagnostic] = []
    out = ["lgpt 1", "", f"# Imported from OpenPrompt templates ({len(parsed)} template(s)).", ""]
    for var in variables.values():
        what = "placeholder" if var.kind == "placeholder" else "meta field"
        out.append(f"var {var.name}: text {quote(f'OpenPrompt {what} {var.source}')}")
        notes.append(
            Diagnostic(
                "I301",
                f"variable `{var.name}` from OpenPrompt {what} `{var.source}` (line(s) {', '.join(map(str, var.lines))})",
                line_span(path, var.lines[0], 1, 2),
            )
        )
    for index, (number, line, pieces) in enumerate(parsed, start=1):
        name = names.claim(f"openprompt_{index}")
        body = _body(pieces, variables)
        out += ["", f"# line {number}: {line.strip()}", f"template {name} {text_literal(body)}"]
        span = line_span(path, number, 1, len(line) + 1)
        used = [variables[(p.kind, p.value)].name for p in pieces if p.kind in ("placeholder", "meta")]
        masks = sum(p.kind == "mask" for p in pieces)
        detail = f"variables {', '.join(dict.fromkeys(used))}" if used else "no variables"
        slot = {0: "no answer slot", 1: "one answer slot"}.get(masks, f"{masks} answer slots")
        notes.append(Diagnostic("I301", f"template `{name}` from line {number}: {detail}; {slot}", span))
        softs = [p for p in pieces if p.kind == "soft"]
        if softs:
            block = names.claim(f"{name}_soft")
            tokens = sum(p.count for p in softs)
            if all(p.value for p in softs):  # one init for the whole prompt
                init = f"words({quote(' '.join(p.value for p in softs))})"
            elif not any(p.value for p in softs):
                init = "random(seed=0)"
            else:  # mixed: one init per group, in order
                init = ", ".join(f"words({quote(p.value)})" if p.value else "random(seed=0)" for p in softs)
            out += [
                "",
                f"soft_prompt {block} {{",
                "  method: prompt_tuning",
                f"  tokens: {tokens}",
                f"  init: {init}",
                "}",
            ]
            cols = ", ".join(str(p.start + 1) for p in softs)
            notes.append(
                Diagnostic(
                    "I301",
                    f"{len(softs)} soft token group(s) at column(s) {cols} become soft_prompt `{block}` "
                    f"({tokens} token(s)): a text template cannot hold soft tokens",
                    span,
                    None,
                    "init words count one token per word here; the real count depends on the tokenizer"
                    if any(p.value for p in softs)
                    else None,
                )
            )
        for piece in pieces:
            if piece.shortenable:
                what = piece.value if piece.kind != "text" else "literal text"
                notes.append(
                    Diagnostic(
                        "I301",
                        f"`{what}` is shortenable: OpenPrompt truncates it first when the input is too long; "
                        "lgpt has no truncation policy yet, so it is imported as plain text",
                        line_span(path, number, piece.start + 1, piece.end + 1),
                    )
                )
    if variables:
        first = min((v for v in variables.values()), key=lambda v: v.lines[0])
        shown = ", ".join(f"`{v.source}`" for v in variables.values())
        notes.append(
            Diagnostic(
                "W301",
                f"OpenPrompt placeholders and meta fields {shown} became variables",
                line_span(path, first.lines[0], 1, 2),
                None,
                "give their values with --var NAME=... or --vars FILE when compiling",
            )
        )
    source = format_source("\n".join(out) + "\n", path)
    return ImportResult(source=source, notes=tuple(notes))
