"""PromptSource ``templates.yaml`` -> .lgpt.

The file is read with a private ``yaml.SafeLoader`` subclass on which ``!Template`` and
``!TemplateMetadata`` build plain dicts: no Python object is ever constructed, and no other tag is
accepted. Node positions from the same parse point every diagnostic at its line and column in the
YAML file, inside the template's ``jinja`` string (quoted, folded or block scalars alike).

Each template's Jinja source is read by a small scanner and parser for the subset below; nothing is
rendered or evaluated with Jinja. What is supported, and what it becomes:

| Jinja | .lgpt |
| --- | --- |
| ``{{ field }}``, ``{{field}}``, ``{{ a.b }}`` | ``{field}``, ``{a_b}``: one ``var`` per field (``text``) |
| ``{{ "literal" }}``, ``{{ 3 }}``, ``{{ answer_choices[1] }}`` | the literal text |
| ``{{ answer_choices[label] }}`` | ``{label}`` (``var label: label {...}`` from the choices) |
| prompt ``|||`` target | the prompt, then `` {answer}`` for the target |
| target ``{{ answer_choices[label] }}`` / ``{{ field }}`` | ``answer: label`` / ``answer: field`` |
| ``{% if c %}...{% elif c %}...{% else %}...{% endif %}`` | ``{if c}...{elif c}...{else}...{end}`` |
| conditions: fields, ``"strings"``, numbers, ``true``/``false``, ``== != < <= > >=``, ``and or not ( )`` | the same condition |
| ``{% for x in field %}...{% endfor %}`` | ``{for x in field}...{end}`` (``field`` becomes ``list[text]``) |
| ``{# comment #}`` | dropped |
| ``{%-`` / ``-%}`` / ``{{-`` / ``-}}`` whitespace control | applied to the literal text around the tag |

Labels: ``answer_choices`` (``negative ||| positive``) give the names of the ``label`` variable that
indexes them (from the first template that does, in file order), and each template with answer
choices gets a ``verbalizer <template>_words for label`` block mapping those names to its own
choices. A template whose choices differ from the label names prints ``{{ answer_choices[label] }}``
as an ``{if label == ...}`` chain, so the text is exactly what Jinja would print. A comparison of the
label with a number (``label == 0``) becomes a comparison with the name at that index (a number out of
range, such as ``label != -1``, is constant); ``{% if label %}`` becomes ``label != "<first name>"``.

Everything else is outside the subset and reported as E302 at its position, with a hint: filters
(``| trim``, ``| join``, ``| lower``...), ``{% set %}``, macros, ``{% raw %}`` and every other
statement, arithmetic and string concatenation, calls, subscripts other than ``answer_choices[...]``,
``loop.index`` and fields of loop items, ``is`` / ``in`` tests, ``{% for %}...{% else %}``, ``|||``
inside ``{% if %}`` / ``{% for %}``, targets that are more than one field, answer choices that are
themselves Jinja, printing a list field or the label index (Jinja would print Python's list syntax or
the number), and ``none``. PromptSource strips the rendered prompt; the importer strips the literal
text at both ends of the prompt, which is the same unless the prompt starts or ends with a tag.

Policy: an import is all or nothing. When any template uses an unsupported construct, the import fails
and every problem of every template is listed (E302 for constructs, E301 for malformed input), so
nothing is silently dropped; remove or rewrite those templates and import again.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from langgpt.ast import Span
from langgpt.errors import Diagnostic, DiagnosticError
from langgpt.fmt import format_source, key_text, quote
from langgpt.importers import ImportResult
from langgpt.importers.openprompt import Names, escape_text, slug, text_literal, variable_name

# ----------------------------------------------------------------------------- loading YAML safely


class _Loader(yaml.SafeLoader):
    """A private SafeLoader: PromptSource's two tags become plain dicts, nothing else is added."""


def _plain_mapping(loader: yaml.SafeLoader, node: yaml.Node) -> dict[Any, Any]:
    if not isinstance(node, yaml.MappingNode):
        raise yaml.constructor.ConstructorError(None, None, f"expected a mapping after {node.tag}", node.start_mark)
    return dict(loader.construct_mapping(node, deep=True))


_Loader.add_constructor("!Template", _plain_mapping)
_Loader.add_constructor("!TemplateMetadata", _plain_mapping)


class _Source:
    """The YAML text, for turning character indexes into spans."""

    def __init__(self, text: str, path: str) -> None:
        self.text, self.path = text, path
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, index) - 1
        return line + 1, index - self.starts[line] + 1

    def span(self, start: int, end: int) -> Span:
        line, col = self.position(start)
        end_line, end_col = self.position(max(end, start + 1))
        return Span(file=self.path, line=line, col=col, end_line=end_line, end_col=end_col)

    def node_span(self, node: yaml.Node) -> Span:
        return self.span(node.start_mark.index, node.start_mark.index + 1)


class _Problem(Exception):
    """One problem inside a Jinja template: code, message, offsets in the template (end exclusive)."""

    def __init__(self, code: str, message: str, start: int, end: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.start, self.end, self.hint = code, message, start, end, hint


_YAML_ESCAPES = {
    "0": "\0",
    "a": "\x07",
    "b": "\x08",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\x0b",
    "f": "\x0c",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_YAML_CODES = {"x": 2, "u": 4, "U": 8}


class _Scalar:
    """A YAML string scalar and, where it can be mapped back, the file index of each character."""

    def __init__(self, source: _Source, node: yaml.ScalarNode) -> None:
        self.source, self.node, self.value = source, node, str(node.value)
        try:
            self.positions = _positions(source.text, node)
        except (IndexError, ValueError):
            self.positions = None

    def span(self, start: int, end: int) -> Span:
        """The file span of ``value[start:end]``."""
        pos = self.positions
        if pos is not None and pos:
            a = pos[min(start, len(pos) - 1)]
            b = pos[min(max(end, start + 1), len(pos)) - 1] + 1
            return self.source.span(a, max(a + 1, b))
        # Not mappable character by character: find the same text in the scalar's source.
        raw = self.value[start:end]
        region_start, region_end = self.node.start_mark.index, self.node.end_mark.index
        region = self.source.text[region_start:region_end]
        if raw:
            nth, at = self.value[:start].count(raw), -1
            for _ in range(nth + 1):
                at = region.find(raw, at + 1)
                if at < 0:
                    break
            if at >= 0:
                return self.source.span(region_start + at, region_start + at + len(raw))
        return self.source.node_span(self.node)


def _positions(text: str, node: yaml.ScalarNode) -> list[int] | None:
    """File indexes of the characters of a scalar's value, or None when the decoding here does not
    give back the value PyYAML read (then diagnostics fall back to a text search)."""
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ("'", '"'):
        chars, pos = _flow(text, start + 1, end - 1, node.style)
    elif node.style is None or node.style == "":
        chars, pos = _flow(text, start, end, None)
    elif node.style == "|":
        chars, pos = _literal_block(text, start, end)
    else:
        return None
    value = str(node.value)
    decoded = "".join(chars)
    if decoded == value or (node.style == "|" and decoded.startswith(value)):
        return pos[: len(value)]
    return None


def _flow(text: str, a: int, b: int, quote_char: str | None) -> tuple[list[str], list[int]]:
    """Decode a plain or quoted flow scalar (escapes and line folding), keeping positions."""
    out: list[str] = []
    pos: list[int] = []
    i = a
    while i < b:
        ch = text[i]
        if quote_char == "'" and ch == "'":
            out.append("'")
            pos.append(i)
            i += 2
        elif quote_char == '"' and ch == "\\":
            nxt = text[i + 1]
            if nxt in _YAML_ESCAPES:
                out.append(_YAML_ESCAPES[nxt])
                pos.append(i)
                i += 2
            elif nxt in _YAML_CODES:
                width = _YAML_CODES[nxt]
                out.append(chr(int(text[i + 2 : i + 2 + width], 16)))
                pos.append(i)
                i += 2 + width
            elif nxt in "\r\n":  # an escaped line break: nothing, then the empty lines after it
                i = _skip_break(text, i + 1)
                i = _fold_breaks(text, i, b, out, pos)
            else:
                raise ValueError("unknown escape")
        elif ch in " \t\r\n":
            j = i
            while j < b and text[j] in " \t":
                j += 1
            if j < b and text[j] in "\r\n":  # folding: trailing spaces go, the break becomes a space
                k = _skip_break(text, j)
                before = len(out)
                k = _fold_breaks(text, k, b, out, pos)
                if len(out) == before:
                    out.append(" ")
                    pos.append(j)
                i = k
            else:
                out.extend(text[i:j])
                pos.extend(range(i, j))
                i = j
        else:
            out.append(ch)
            pos.append(i)
            i += 1
    return out, pos


def _skip_break(text: str, i: int) -> int:
    return i + 2 if text.startswith("\r\n", i) else i + 1


def _fold_breaks(text: str, i: int, b: int, out: list[str], pos: list[int]) -> int:
    """After a line break: skip indentation; each further empty line is one newline."""
    while True:
        while i < b and text[i] in " \t":
            i += 1
        if i < b and text[i] in "\r\n":
            out.append("\n")
            pos.append(i)
            i = _skip_break(text, i)
        else:
            return i


def _literal_block(text: str, start: int, end: int) -> tuple[list[str], list[int]]:
    """Decode a ``|`` block scalar with an auto-detected indentation, keeping positions."""
    header_end = text.index("\n", start)
    if any(ch.isdigit() for ch in text[start:header_end].split("#")[0]):
        raise ValueError("explicit indentation")
    lines: list[tuple[int, str]] = []
    i = header_end + 1
    while i < end:
        stop = text.find("\n", i)
        stop = end if stop < 0 or stop > end else stop
        lines.append((i, text[i:stop].rstrip("\r")))
        i = stop + 1
    indent = next((len(ln) - len(ln.lstrip(" ")) for _, ln in lines if ln.strip()), 0)
    out: list[str] = []
    pos: list[int] = []
    for n, (at, ln) in enumerate(lines):
        if n:
            out.append("\n")
            pos.append(at - 1)
        content = ln[indent:]
        out.extend(content)
        pos.extend(range(at + indent, at + indent + len(content)))
    out.append("\n")
    pos.append(end)
    return out, pos


# ----------------------------------------------------------------------------- Jinja: tokens


@dataclass
class _Tok:
    kind: str  # text | expr | stmt | comment | sep
    text: str  # the text, or a tag's inner source without whitespace-control markers
    start: int  # offsets in the template's jinja value, end exclusive
    end: int
    inner: int = 0  # offset of text[0]
    lstrip: bool = False  # `{%-`: strip the whitespace before the tag
    rstrip: bool = False  # `-%}`: strip the whitespace after it


_OPENER = re.compile(r"\{\{|\{%|\{#")
_CLOSER = {"{{": "}}", "{%": "%}", "{#": "#}"}
_KIND = {"{{": "expr", "{%": "stmt", "{#": "comment"}


def _lex(src: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while True:
        m = _OPENER.search(src, pos)
        stop = m.start() if m else len(src)
        if stop > pos:
            toks.append(_Tok("text", src[pos:stop], pos, stop, pos))
        if m is None:
            break
        opener = m.group()
        close = src.find("#}", m.end()) if opener == "{#" else _find_close(src, m.end(), _CLOSER[opener])
        if close < 0:
            raise _Problem(
                "E301", f"`{opener}` is never closed", m.start(), m.end(), f"close it with `{_CLOSER[opener]}`"
            )
        a, b = m.end(), close
        markers = "-+" if opener != "{{" else "-"
        lstrip = rstrip = False
        if a < b and src[a] in markers:
            lstrip, a = src[a] == "-", a + 1
        if b > a and src[b - 1] in markers:
            rstrip, b = src[b - 1] == "-", b - 1
        toks.append(_Tok(_KIND[opener], src[a:b], m.start(), close + 2, a, lstrip, rstrip))
        pos = close + 2
    return _split_separators(_whitespace_control(toks))


def _find_close(src: str, i: int, closer: str) -> int:
    while i < len(src):
        if src.startswith(closer, i):
            return i
        if src[i] in "\"'":
            m = re.compile(r"(?:[^{0}\\]|\\.)*{0}".format(re.escape(src[i])), re.S).match(src, i + 1)
            if m is None:
                return -1
            i = m.end()
            continue
        i += 1
    return -1


def _whitespace_control(toks: list[_Tok]) -> list[_Tok]:
    for index, tok in enumerate(toks):
        if tok.lstrip and index and toks[index - 1].kind == "text":
            prev = toks[index - 1]
            prev.text = prev.text.rstrip()
            prev.end = prev.start + len(prev.text)
        if tok.rstrip and index + 1 < len(toks) and toks[index + 1].kind == "text":
            nxt = toks[index + 1]
            stripped = nxt.text.lstrip()
            nxt.start += len(nxt.text) - len(stripped)
            nxt.inner = nxt.start
            nxt.text = stripped
    return [t for t in toks if t.kind != "text" or t.text]


def _split_separators(toks: list[_Tok]) -> list[_Tok]:
    out: list[_Tok] = []
    for tok in toks:
        if tok.kind != "text" or "|||" not in tok.text:
            out.append(tok)
            continue
        at = 0
        for m in re.finditer(r"\|\|\|", tok.text):
            if m.start() > at:
                out.append(_Tok("text", tok.text[at : m.start()], tok.start + at, tok.start + m.start()))
            out.append(_Tok("sep", "|||", tok.start + m.start(), tok.start + m.end()))
            at = m.end()
        if at < len(tok.text):
            out.append(_Tok("text", tok.text[at:], tok.start + at, tok.end))
    return out


# ----------------------------------------------------------------------------- Jinja: expressions


@dataclass(frozen=True)
class _Field:
    path: tuple[str, ...]
    start: int
    end: int


@dataclass(frozen=True)
class _Lit:
    value: str | int | float | bool
    text: str  # as written (numbers)
    start: int
    end: int


@dataclass(frozen=True)
class _Choice:
    index: _Field | int
    start: int
    end: int


@dataclass(frozen=True)
class _BoolOp:
    op: str  # and | or
    items: tuple[_Cond, ...]


@dataclass(frozen=True)
class _Not:
    item: _Cond


@dataclass(frozen=True)
class _Cmp:
    left: _Field | _Lit
    op: str
    right: _Field | _Lit
    start: int
    end: int


_Expr = _Field | _Lit | _Choice
_Cond = _BoolOp | _Not | _Cmp | _Field | _Lit

_ETOK = re.compile(
    r"""(?P<ws>\s+)|(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_]\w*)"""
    r"""|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    r"""|(?P<op>==|!=|<=|>=|\*\*|//|[<>()\[\].|,+\-*/%~:=!{}])""",
    re.S,
)
_STRING_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")
_FILTER_HINT = "lgpt has no filters: prepare the field in your data (or pass the prepared value) and use {{ field }}"
_SYNTAX_HINT = "the supported subset: {{ field }}, {{ answer_choices[label] }}, {% if %}, {% for x in field %}, |||"


@dataclass(frozen=True)
class _ETok:
    kind: str  # num | name | str | op | end
    text: str
    start: int
    end: int


class _ExprParser:
    """A recursive-descent parser for the expressions of one tag (offsets are in the template)."""

    def __init__(self, tok: _Tok, in_loop: bool) -> None:
        self.tag = tok
        self.in_loop = in_loop
        self.toks: list[_ETok] = []
        i = 0
        while i < len(tok.text):
            m = _ETOK.match(tok.text, i)
            if m is None:
                at = tok.inner + i
                raise _Problem("E302", f"unexpected `{tok.text[i]}` in a Jinja tag", at, at + 1, _SYNTAX_HINT)
            kind = m.lastgroup or "ws"
            if kind != "ws":
                self.toks.append(_ETok(kind, m.group(), tok.inner + m.start(), tok.inner + m.end()))
            i = m.end()
        self.toks.append(_ETok("end", "", tok.inner + len(tok.text), tok.inner + len(tok.text)))
        self.i = 0

    def peek(self, ahead: int = 0) -> _ETok:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def take(self) -> _ETok:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, text: str) -> _ETok:
        tok = self.take()
        if tok.text != text:
            raise self.unsupported(tok, f"expected `{text}`")
        return tok

    def at_end(self) -> None:
        tok = self.peek()
        if tok.kind != "end":
            raise self.unsupported(tok)

    def unsupported(self, tok: _ETok, why: str | None = None) -> _Problem:
        """The E302 for the construct that starts at ``tok``."""
        start, end = tok.start, self.tag.inner + len(self.tag.text)
        if tok.text == "|":
            name = self.peek(1).text if self.peek(1).kind == "name" else "?"
            after = self.peek(1).end if self.peek(1).kind == "name" else tok.end
            return _Problem("E302", f"Jinja filter `| {name}` is not supported", start, after, _FILTER_HINT)
        if tok.text in ("+", "-", "*", "/", "//", "%", "**", "~"):
            return _Problem(
                "E302",
                f"arithmetic or concatenation (`{tok.text}`) is not supported",
                start,
                end,
                "compute the value in your data, or write the pieces side by side: {{ a }} {{ b }}",
            )
        if tok.text == "(":
            return _Problem("E302", "function and method calls are not supported", start, end, _SYNTAX_HINT)
        if tok.text in ("[", "."):
            return _Problem(
                "E302",
                "subscripts other than answer_choices[...] are not supported",
                start,
                end,
                "flatten the value into its own field in your data",
            )
        if tok.text in ("is", "in"):
            return _Problem("E302", f"Jinja `{tok.text}` tests are not supported", start, end, _SYNTAX_HINT)
        if tok.text == "if":
            return _Problem(
                "E302", "inline `if` expressions are not supported", start, end, "use {% if %}...{% endif %}"
            )
        message = why or f"unsupported Jinja syntax at `{tok.text or 'the end of the tag'}`"
        return _Problem("E302", message, start, max(end, start + 1), _SYNTAX_HINT)

    # -- {{ ... }}
    def output(self) -> _Expr:
        expr = self.primary(for_output=True)
        self.at_end()
        return expr

    def primary(self, for_output: bool = False) -> _Expr:
        tok = self.take()
        if tok.kind == "str":
            return _Lit(_string_value(tok.text), tok.text, tok.start, tok.end)
        if tok.kind == "num":
            return _Lit(float(tok.text) if "." in tok.text else int(tok.text), tok.text, tok.start, tok.end)
        if tok.text == "-" and self.peek().kind == "num":
            num = self.take()
            value = -float(num.text) if "." in num.text else -int(num.text)
            return _Lit(value, "-" + num.text, tok.start, num.end)
        if tok.kind != "name":
            raise self.unsupported(tok)
        if tok.text in ("true", "false", "True", "False"):
            return _Lit(tok.text.lower() == "true", tok.text.lower(), tok.start, tok.end)
        if tok.text in ("none", "None"):
            raise _Problem(
                "E302", "`none` is not supported", tok.start, tok.end, "test the field itself: {% if field %}"
            )
        if tok.text == "answer_choices":
            return self.choice(tok)
        if tok.text == "loop" and self.in_loop:
            raise _Problem("E302", "Jinja's `loop` variable is not supported", tok.start, self.peek().end, _SYNTAX_HINT)
        if self.peek().text == "(":
            raise self.unsupported(self.peek())
        path, end = [tok.text], tok.end
        while self.peek().text == "." and self.peek(1).kind == "name":
            self.take()
            name = self.take()
            path.append(name.text)
            end = name.end
        return _Field(tuple(path), tok.start, end)

    def choice(self, tok: _ETok) -> _Choice:
        if self.peek().text == "|":
            problem = self.unsupported(self.peek())
            problem.message += " on answer_choices"
            problem.hint = "write the choices out in the prompt, or index them: {{ answer_choices[0] }}"
            raise problem
        if self.peek().text != "[":
            raise _Problem(
                "E302",
                "`answer_choices` is only supported as answer_choices[label] or answer_choices[N]",
                tok.start,
                self.peek().end if self.peek().kind != "end" else tok.end,
                "list the choices in the prompt text, or index them: {{ answer_choices[0] }}",
            )
        self.take()
        index_tok = self.take()
        index: _Field | int
        if index_tok.kind == "num" and "." not in index_tok.text:
            index = int(index_tok.text)
        elif index_tok.kind == "name" and self.peek().text == "]":
            index = _Field((index_tok.text,), index_tok.start, index_tok.end)
        else:
            raise _Problem(
                "E302",
                "answer_choices must be indexed by a field or a number",
                tok.start,
                index_tok.end,
                "write {{ answer_choices[label] }}",
            )
        close = self.expect("]")
        return _Choice(index, tok.start, close.end)

    # -- {% if ... %}
    def condition(self) -> _Cond:
        cond = self.or_cond()
        self.at_end()
        return cond

    def or_cond(self) -> _Cond:
        items = [self.and_cond()]
        while self.peek().text == "or":
            self.take()
            items.append(self.and_cond())
        return items[0] if len(items) == 1 else _BoolOp("or", tuple(items))

    def and_cond(self) -> _Cond:
        items = [self.not_cond()]
        while self.peek().text == "and":
            self.take()
            items.append(self.not_cond())
        return items[0] if len(items) == 1 else _BoolOp("and", tuple(items))

    def not_cond(self) -> _Cond:
        if self.peek().text == "not":
            self.take()
            return _Not(self.not_cond())
        return self.comparison()

    def comparison(self) -> _Cond:
        if self.peek().text == "(":
            self.take()
            inner = self.or_cond()
            self.expect(")")
            return inner
        left = self.operand()
        if self.peek().text in _COMPARE:
            op = self.take().text
            right = self.operand()
            if self.peek().text in _COMPARE:
                raise self.unsupported(self.peek(), "chained comparisons are not supported")
            return _Cmp(left, op, right, left.start, right.end)
        if self.peek().text == "not" and self.peek(1).text == "in":
            raise self.unsupported(self.peek(1))
        return left

    def operand(self) -> _Field | _Lit:
        expr = self.primary()
        if isinstance(expr, _Choice):
            raise _Problem(
                "E302",
                "answer_choices in a condition is not supported",
                expr.start,
                expr.end,
                "compare the label itself: {% if label == 0 %}",
            )
        if self.peek().text in ("|", "(", "[", ".", "+", "-", "*", "/", "%", "~", "is", "in", "//", "**"):
            raise self.unsupported(self.peek())
        return expr


def _string_value(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: _STRING_ESCAPES.get(m.group(1), m.group(0)), body, flags=re.S)


# ----------------------------------------------------------------------------- Jinja: statements


@dataclass
class _Text:
    text: str
    start: int


@dataclass
class _Out:
    expr: _Expr
    start: int
    end: int


@dataclass
class _If:
    branches: list[tuple[_Cond | None, list[_Node]]]
    start: int
    end: int = 0


@dataclass
class _For:
    var: str
    iterable: _Field
    body: list[_Node]
    start: int
    end: int = 0


@dataclass
class _Sep:
    start: int
    end: int


_Node = _Text | _Out | _If | _For | _Sep
_FOR = re.compile(r"\s*([A-Za-z_]\w*)\s+in\s+([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)\s*\Z")
_STATEMENT_HINTS = {
    "set": "compute the value in your data instead of {% set %}",
    "macro": "expand the macro by hand",
    "raw": "write the text without {% raw %}",
    "filter": _FILTER_HINT,
}


@dataclass
class _Parsed:
    nodes: list[_Node]
    comments: int = 0
    stripped: int = 0  # whitespace-control markers applied
    problems: list[_Problem] = field(default_factory=list)


def _parse_jinja(src: str) -> _Parsed:
    try:
        toks = _lex(src)
    except _Problem as problem:
        return _Parsed([], problems=[problem])
    parsed = _Parsed([])
    parsed.stripped = sum(t.lstrip + t.rstrip for t in toks)
    root: list[_Node] = []
    stack: list[tuple[_If | _For, list[_Node]]] = []

    def body() -> list[_Node]:
        return stack[-1][1] if stack else root

    for tok in toks:
        try:
            if tok.kind == "text":
                body().append(_Text(tok.text, tok.start))
            elif tok.kind == "sep":
                if stack:
                    raise _Problem(
                        "E302",
                        "`|||` inside {% if %} or {% for %} is not supported",
                        tok.start,
                        tok.end,
                        "put the prompt ||| target split at the top level of the template",
                    )
                root.append(_Sep(tok.start, tok.end))
            elif tok.kind == "comment":
                parsed.comments += 1
            elif tok.kind == "expr":
                in_loop = any(isinstance(node, _For) for node, _ in stack)
                body().append(_Out(_ExprParser(tok, in_loop).output(), tok.start, tok.end))
            else:
                _statement(tok, stack, body, any(isinstance(node, _For) for node, _ in stack))
        except _Problem as problem:
            parsed.problems.append(problem)
    for node, _ in reversed(stack):
        keyword = "if" if isinstance(node, _If) else "for"
        parsed.problems.append(
            _Problem(
                "E301", f"`{{% {keyword} %}}` is never closed", node.start, node.start + 2, f"add {{% end{keyword} %}}"
            )
        )
    parsed.nodes = root
    return parsed


def _statement(
    tok: _Tok, stack: list[tuple[_If | _For, list[_Node]]], body: Callable[[], list[_Node]], in_loop: bool
) -> None:
    words = tok.text.split(None, 1)
    keyword = words[0] if words else ""
    rest_at = tok.inner + (tok.text.index(keyword) + len(keyword) if keyword else 0)
    if keyword in ("if", "elif"):
        cond_tok = _Tok("stmt", tok.text[rest_at - tok.inner :], tok.start, tok.end, rest_at)
        try:
            cond: _Cond = _ExprParser(cond_tok, in_loop).condition()
        except _Problem:
            cond = _Lit(True, "true", tok.start, tok.end)
            if keyword == "if":  # keep the structure, so the rest of the template is still checked
                node = _If([(cond, [])], tok.start)
                body().append(node)
                stack.append((node, node.branches[0][1]))
            raise
        if keyword == "if":
            node = _If([(cond, [])], tok.start)
            body().append(node)
            stack.append((node, node.branches[0][1]))
            return
        top = stack[-1][0] if stack else None
        if not isinstance(top, _If) or top.branches[-1][0] is None:
            raise _Problem("E301", "`{% elif %}` without an open `{% if %}`", tok.start, tok.end)
        top.branches.append((cond, []))
        stack[-1] = (top, top.branches[-1][1])
    elif keyword == "else":
        top = stack[-1][0] if stack else None
        if isinstance(top, _For):
            raise _Problem("E302", "`{% for %}...{% else %}` is not supported", tok.start, tok.end, _SYNTAX_HINT)
        if not isinstance(top, _If) or top.branches[-1][0] is None:
            raise _Problem("E301", "`{% else %}` without an open `{% if %}`", tok.start, tok.end)
        top.branches.append((None, []))
        stack[-1] = (top, top.branches[-1][1])
    elif keyword in ("endif", "endfor"):
        want = _If if keyword == "endif" else _For
        if not stack or not isinstance(stack[-1][0], want):
            raise _Problem("E301", f"`{{% {keyword} %}}` without its opening tag", tok.start, tok.end)
        stack[-1][0].end = tok.end
        stack.pop()
    elif keyword == "for":
        m = _FOR.match(tok.text[len("for") + tok.text.index("for") :])
        if m is None:
            raise _Problem(
                "E302",
                f"unsupported loop `{{% {tok.text.strip()} %}}`",
                tok.start,
                tok.end,
                "loop over a field: {% for x in field %} (no unpacking, filters or conditions)",
            )
        iterable = tuple(part.strip() for part in m.group(2).split("."))
        at = tok.inner + tok.text.index(m.group(2), tok.text.index(" in ") if " in " in tok.text else 0)
        loop = _For(m.group(1), _Field(iterable, at, at + len(m.group(2))), [], tok.start)
        body().append(loop)
        stack.append((loop, loop.body))
    else:
        shown = keyword or "(empty)"
        raise _Problem(
            "E302",
            f"Jinja statement `{{% {shown} %}}` is not supported",
            tok.start,
            tok.end,
            _STATEMENT_HINTS.get(keyword, _SYNTAX_HINT),
        )


# ----------------------------------------------------------------------------- templates and fields


@dataclass
class _Template:
    key: yaml.Node  # the UUID key: its line is the template's line
    name: str
    ident: str
    jinja: _Scalar
    choices: list[str] | None
    choices_node: yaml.Node | None
    reference: str
    prompt: list[_Node] = field(default_factory=list)
    target: _Out | None = None
    parsed: _Parsed | None = None
    slug: str = ""


@dataclass
class _Use:
    kind: str  # print | cond | list | label | int | float | answer
    template: int
    start: int
    end: int


@dataclass
class _Variable:
    key: str  # the field as written in Jinja (dotted)
    name: str
    uses: list[_Use] = field(default_factory=list)
    type: str = "text"  # text | int | float | list | label
    labels: list[str] = field(default_factory=list)
    labels_from: int = -1


class _Importer:
    def __init__(self, text: str, path: str) -> None:
        self.source = _Source(text, path)
        self.path = path
        self.problems: list[Diagnostic] = []
        self.notes: list[Diagnostic] = []
        self.templates: list[_Template] = []
        self.variables: dict[str, _Variable] = {}
        self.names = Names()

    def fail(
        self, code: str, message: str, span: Span | None, expected: str | None = None, hint: str | None = None
    ) -> None:
        self.problems.append(Diagnostic(code, message, span, expected, hint))

    def problem(self, tpl: _Template, problem: _Problem) -> None:
        self.fail(problem.code, problem.message, tpl.jinja.span(problem.start, problem.end), None, problem.hint)

    # -- reading the file
    def load(self) -> dict[str, Any] | None:
        loader = _Loader(self.source.text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            span = self.source.span(mark.index, mark.index + 1) if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            self.fail("E301", f"cannot read the YAML: {problem}", span, "a PromptSource templates.yaml")
            return None
        finally:
            loader.dispose()
        if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
            self.fail("E301", "not a PromptSource templates.yaml: the top level is not a mapping", None)
            return None
        templates = _get(root, "templates")
        if not isinstance(templates, yaml.MappingNode) or not templates.value:
            span = self.source.node_span(templates) if templates is not None else None
            self.fail(
                "E301", "no `templates:` mapping of !Template entries", span, "templates: {UUID: !Template {...}}"
            )
            return None
        for key, node in templates.value:
            self.read_template(key, node)
        return data

    def read_template(self, key: yaml.Node, node: yaml.Node) -> None:
        where = self.source.node_span(key)
        if not isinstance(node, yaml.MappingNode):
            self.fail(
                "E301", "a template entry is not a mapping", where, "a !Template with jinja, name, answer_choices"
            )
            return
        jinja = _get(node, "jinja")
        name_node = _get(node, "name")
        if not isinstance(jinja, yaml.ScalarNode) or _scalar(jinja) is None:
            self.fail("E301", "template without a `jinja:` string", where, "jinja: '... ||| ...'")
            return
        name = (_scalar(name_node) if isinstance(name_node, yaml.ScalarNode) else None) or str(
            _scalar(key) or "template"
        )
        choices_node = _get(node, "answer_choices")
        raw_choices = _scalar(choices_node) if isinstance(choices_node, yaml.ScalarNode) else None
        choices = [c.strip() for c in raw_choices.split("|||")] if raw_choices is not None else None
        reference_node = _get(node, "reference")
        reference = (_scalar(reference_node) if isinstance(reference_node, yaml.ScalarNode) else None) or ""
        ident_node = _get(node, "id")
        ident = (_scalar(ident_node) if isinstance(ident_node, yaml.ScalarNode) else None) or str(_scalar(key) or "")
        self.templates.append(
            _Template(key, name, ident, _Scalar(self.source, jinja), choices, choices_node, reference)
        )

    # -- pass 1: parse, and collect how each field is used
    def analyse(self, index: int, tpl: _Template) -> None:
        parsed = _parse_jinja(tpl.jinja.value)
        tpl.parsed = parsed
        for problem in parsed.problems:
            self.problem(tpl, problem)
        seps = [i for i, n in enumerate(parsed.nodes) if isinstance(n, _Sep)]
        if len(seps) > 1:
            sep = parsed.nodes[seps[1]]
            assert isinstance(sep, _Sep)
            self.problem(
                tpl,
                _Problem(
                    "E302", "more than one `|||` in a template", sep.start, sep.end, "one prompt ||| target split"
                ),
            )
            return
        tpl.prompt = parsed.nodes[: seps[0]] if seps else list(parsed.nodes)
        if seps:
            self.read_target(tpl, parsed.nodes[seps[0] + 1 :])
        self.walk(index, tpl, tpl.prompt, [])
        if tpl.target is not None:
            try:
                self.use_expr(index, tpl.target.expr, [], "answer")
            except _Problem as problem:
                self.problem(tpl, problem)
        if tpl.choices is not None and any("{{" in c or "{%" in c for c in tpl.choices):
            if self.uses_choices(tpl):
                node = tpl.choices_node
                self.fail(
                    "E302",
                    "answer_choices computed with Jinja are not supported",
                    self.source.node_span(node) if node is not None else None,
                    None,
                    "use fixed choices such as `negative ||| positive`",
                )
            tpl.choices = None

    def uses_choices(self, tpl: _Template) -> bool:
        found: list[bool] = []

        def visit(nodes: list[_Node]) -> None:
            for node in nodes:
                if isinstance(node, _Out) and isinstance(node.expr, _Choice):
                    found.append(True)
                elif isinstance(node, _If):
                    for _, branch in node.branches:
                        visit(branch)
                elif isinstance(node, _For):
                    visit(node.body)

        visit(tpl.prompt)
        return bool(found) or (tpl.target is not None and isinstance(tpl.target.expr, _Choice))

    def read_target(self, tpl: _Template, nodes: list[_Node]) -> None:
        meaningful = [n for n in nodes if not (isinstance(n, _Text) and not n.text.strip())]
        if not meaningful:
            return
        first, last = meaningful[0], meaningful[-1]
        if len(meaningful) == 1 and isinstance(first, _Out) and not isinstance(first.expr, _Lit):
            tpl.target = first
        else:
            start = first.start
            end = last.start + len(last.text) if isinstance(last, _Text) else last.start + 1
            if isinstance(last, (_Out, _If, _For, _Sep)):
                end = max(end, last.end)
            self.problem(
                tpl,
                _Problem(
                    "E302",
                    "the target (after |||) must be a single {{ field }} or {{ answer_choices[field] }}",
                    start,
                    end,
                    "move any other text into the prompt, before |||",
                ),
            )

    def walk(self, index: int, tpl: _Template, nodes: list[_Node], loops: list[str]) -> None:
        for node in nodes:
            try:
                if isinstance(node, _Out):
                    self.use_expr(index, node.expr, loops, "print")
                elif isinstance(node, _If):
                    for cond, branch in node.branches:
                        if cond is not None:
                            self.use_cond(index, cond, loops)
                        self.walk(index, tpl, branch, loops)
                elif isinstance(node, _For):
                    if node.iterable.path[0] in loops:
                        raise _Problem(
                            "E302",
                            "a loop over a loop item is not supported",
                            node.iterable.start,
                            node.iterable.end,
                            "loop over a list field",
                        )
                    self.use(index, node.iterable, "list")
                    self.walk(index, tpl, node.body, [*loops, node.var])
            except _Problem as problem:
                self.problem(tpl, problem)

    def use(self, index: int, fld: _Field, kind: str) -> None:
        key = ".".join(fld.path)
        var = self.variables.get(key)
        if var is None:
            var = self.variables[key] = _Variable(key, "")
        var.uses.append(_Use(kind, index, fld.start, fld.end))

    def use_expr(self, index: int, expr: _Expr, loops: list[str], kind: str) -> None:
        if isinstance(expr, _Field):
            if expr.path[0] in loops:
                if len(expr.path) > 1:
                    raise _Problem(
                        "E302",
                        "fields of loop items are not supported",
                        expr.start,
                        expr.end,
                        "loop over a list of plain values",
                    )
                if kind == "answer":
                    raise _Problem("E302", "a loop item cannot be the target", expr.start, expr.end)
                return
            self.use(index, expr, kind)
        elif isinstance(expr, _Choice):
            if isinstance(expr.index, _Field):
                if expr.index.path[0] in loops:
                    raise _Problem(
                        "E302",
                        "answer_choices indexed by a loop item is not supported",
                        expr.start,
                        expr.end,
                        "index by the label field: answer_choices[label]",
                    )
                self.use(index, expr.index, "label")
            tpl = self.templates[index]
            if tpl.choices is None:
                raise _Problem(
                    "E302",
                    "answer_choices used, but the template has no answer_choices",
                    expr.start,
                    expr.end,
                    "add answer_choices: a ||| b",
                )
            if isinstance(expr.index, int) and not 0 <= expr.index < len(tpl.choices):
                raise _Problem("E302", f"answer_choices[{expr.index}] is out of range", expr.start, expr.end)

    def use_cond(self, index: int, cond: _Cond, loops: list[str]) -> None:
        if isinstance(cond, _BoolOp):
            for item in cond.items:
                self.use_cond(index, item, loops)
        elif isinstance(cond, _Not):
            self.use_cond(index, cond.item, loops)
        elif isinstance(cond, _Cmp):
            for side, other in ((cond.left, cond.right), (cond.right, cond.left)):
                if isinstance(side, _Field) and side.path[0] not in loops:
                    number = isinstance(other, _Lit) and type(other.value) in (int, float)
                    kind = ("float" if isinstance(other.value, float) else "int") if number else "cond"  # type: ignore[union-attr]
                    self.use(index, side, kind)
                elif isinstance(side, _Field) and len(side.path) > 1:
                    raise _Problem("E302", "fields of loop items are not supported", side.start, side.end)
        elif isinstance(cond, _Field):
            if cond.path[0] in loops:
                if len(cond.path) > 1:
                    raise _Problem("E302", "fields of loop items are not supported", cond.start, cond.end)
            else:
                self.use(index, cond, "cond")

    # -- pass 2: variable names and types
    def resolve(self) -> None:
        for var in self.variables.values():
            var.name = self.names.claim(variable_name(var.key.replace(".", "_")))
            kinds = {u.kind for u in var.uses}
            if "label" in kinds:
                var.type = "label"
            elif "list" in kinds:
                var.type = "list"
            elif "float" in kinds:
                var.type = "float"
            elif "int" in kinds:
                var.type = "int"
            for use in var.uses:
                self.check_use(var, use)
            if var.type == "label":
                self.label_names(var)

    def check_use(self, var: _Variable, use: _Use) -> None:
        tpl = self.templates[use.template]
        clash = None
        if var.type == "label" and use.kind == "list":
            clash = "is an answer_choices index, and is looped over"
        elif var.type == "label" and use.kind == "print":
            clash = "is an answer_choices index: Jinja prints its number here"
        elif var.type == "list" and use.kind == "print":
            clash = "is a list: Jinja prints Python's list syntax here"
        elif var.type == "list" and use.kind in ("int", "float"):
            clash = "is a list, compared with a number"
        elif var.type in ("label", "list") and use.kind == "answer":
            clash = "is the target, but Jinja would print its " + ("number" if var.type == "label" else "list syntax")
        if clash:
            self.problem(
                tpl,
                _Problem(
                    "E302",
                    f"field `{var.key}` {clash}",
                    use.start,
                    use.end,
                    "print answer_choices[label] for the label; loop over a list: {% for x in field %}",
                ),
            )

    def label_names(self, var: _Variable) -> None:
        for use in var.uses:
            if use.kind != "label":
                continue
            tpl = self.templates[use.template]
            if tpl.choices is None:
                continue
            if var.labels_from < 0:
                if len(set(tpl.choices)) != len(tpl.choices) or not all(tpl.choices):
                    self.fail(
                        "E302",
                        f'answer_choices of template "{tpl.name}" are empty or repeated',
                        self.source.node_span(tpl.choices_node) if tpl.choices_node is not None else None,
                        None,
                        "each choice must be a distinct, non-empty text",
                    )
                    return
                var.labels, var.labels_from = list(tpl.choices), use.template
            elif len(tpl.choices) != len(var.labels):
                first = self.templates[var.labels_from]
                self.fail(
                    "E302",
                    f'template "{tpl.name}" has {len(tpl.choices)} answer choices but `{var.key}` has '
                    f'{len(var.labels)} (from template "{first.name}")',
                    self.source.node_span(tpl.choices_node) if tpl.choices_node is not None else None,
                    None,
                    "templates that index answer_choices with the same field need the same number of choices",
                )

    # -- pass 3: writing .lgpt
    def name_of(self, fld: _Field, loops: dict[str, str]) -> str:
        if fld.path[0] in loops:
            return loops[fld.path[0]]
        return self.variables[".".join(fld.path)].name

    def body(self, tpl: _Template, nodes: list[_Node], loops: dict[str, str]) -> str:
        out: list[str] = []
        literal: list[str] = []

        def flush() -> None:
            if literal:
                out.append(escape_text("".join(literal)))
                literal.clear()

        for node in nodes:
            if isinstance(node, _Text):
                literal.append(node.text)
            elif isinstance(node, _Out):
                expr = node.expr
                if isinstance(expr, _Lit):
                    literal.append(_printed(expr))
                elif isinstance(expr, _Field):
                    flush()
                    out.append("{" + self.name_of(expr, loops) + "}")
                elif isinstance(expr.index, int):
                    assert tpl.choices is not None
                    literal.append(tpl.choices[expr.index])
                else:
                    flush()
                    out.append(self.choice_text(tpl, expr, self.variables[".".join(expr.index.path)]))
            elif isinstance(node, _If):
                flush()
                for n, (cond, branch) in enumerate(node.branches):
                    if cond is None:
                        out.append("{else}")
                    else:
                        out.append(("{if " if n == 0 else "{elif ") + self.cond_text(tpl, cond, loops) + "}")
                    out.append(self.body(tpl, branch, loops))
                out.append("{end}")
            elif isinstance(node, _For):
                flush()
                var = self.names_for_loop(node.var, loops)
                iterable = self.name_of(node.iterable, loops)
                out.append(f"{{for {var} in {iterable}}}")
                out.append(self.body(tpl, node.body, {**loops, node.var: var}))
                out.append("{end}")
        flush()
        return "".join(out)

    def names_for_loop(self, raw: str, loops: dict[str, str]) -> str:
        name = variable_name(raw)
        taken = set(loops.values()) | {v.name for v in self.variables.values()}
        base, n = name, 2
        while name in taken:
            name = f"{base}_{n}"
            n += 1
        return name

    def choice_text(self, tpl: _Template, expr: _Choice, var: _Variable) -> str:
        """``{{ answer_choices[label] }}`` in the prompt: the label itself when the names are this
        template's choices, else a condition chain that prints this template's choice."""
        assert tpl.choices is not None
        if tpl.choices == var.labels:
            return "{" + var.name + "}"
        parts = []
        for n, (label, choice) in enumerate(zip(var.labels, tpl.choices, strict=True)):
            parts.append(
                ("{if " if n == 0 else "{elif ") + f"{var.name} == {self.cond_string(label, expr.start, expr.end)}}}"
            )
            parts.append(escape_text(choice))
        return "".join(parts) + "{end}"

    @staticmethod
    def cond_string(value: str, start: int, end: int) -> str:
        """A string operand of an lgpt condition (tags end at the first brace and take no escapes)."""
        if any(ch in value for ch in '"}\\\n'):
            raise _Problem(
                "E302",
                f"cannot compare with {value!r} in a condition (it holds a quote, brace, backslash or line break)",
                start,
                end,
            )
        return f'"{value}"'

    def cond_text(self, tpl: _Template, cond: _Cond, loops: dict[str, str]) -> str:
        if isinstance(cond, _BoolOp):
            parts = [
                f"({self.cond_text(tpl, item, loops)})"
                if isinstance(item, _BoolOp)
                else self.cond_text(tpl, item, loops)
                for item in cond.items
            ]
            return f" {cond.op} ".join(parts)
        if isinstance(cond, _Not):
            inner = self.cond_text(tpl, cond.item, loops)
            return f"not ({inner})" if isinstance(cond.item, (_BoolOp, _Cmp)) else f"not {inner}"
        if isinstance(cond, _Cmp):
            label = self.label_compare(tpl, cond, loops)
            if label is not None:
                return label
            return f"{self.operand(tpl, cond.left, loops)} {cond.op} {self.operand(tpl, cond.right, loops)}"
        if isinstance(cond, _Field) and cond.path[0] not in loops:
            var = self.variables[".".join(cond.path)]
            if var.type == "label":  # Jinja: the index is false when it is 0
                return f"{var.name} != {self.cond_string(var.labels[0], cond.start, cond.end)}"
        return self.operand(tpl, cond, loops)

    def label_compare(self, tpl: _Template, cond: _Cmp, loops: dict[str, str]) -> str | None:
        for side, other in ((cond.left, cond.right), (cond.right, cond.left)):
            if not isinstance(side, _Field) or side.path[0] in loops:
                continue
            var = self.variables[".".join(side.path)]
            if var.type != "label":
                continue
            if (
                not isinstance(other, _Lit)
                or not isinstance(other.value, int)
                or isinstance(other.value, bool)
                or cond.op not in ("==", "!=")
            ):
                raise _Problem(
                    "E302",
                    f"`{var.key}` indexes answer_choices: compare it with == or != and a number",
                    cond.start,
                    cond.end,
                    f"write {var.key} == 0",
                )
            if not 0 <= other.value < len(var.labels):  # the label never holds it: constant
                return "false" if cond.op == "==" else "true"
            return f"{var.name} {cond.op} {self.cond_string(var.labels[other.value], cond.start, cond.end)}"
        return None

    def operand(self, tpl: _Template, node: _Field | _Lit, loops: dict[str, str]) -> str:
        if isinstance(node, _Field):
            return self.name_of(node, loops)
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        if isinstance(node.value, str):
            return self.cond_string(node.value, node.start, node.end)
        return node.text

    def template_source(self, tpl: _Template) -> list[str]:
        nodes = _strip_ends(tpl.prompt)
        prompt = self.body(tpl, nodes, {})
        answer_var: _Variable | None = None
        if tpl.target is not None:
            expr = tpl.target.expr
            fld = expr.index if isinstance(expr, _Choice) else expr
            assert isinstance(fld, _Field)
            answer_var = self.variables[".".join(fld.path)]
            prompt = f"{prompt} {{answer}}" if prompt else "{answer}"
        literal = text_literal(prompt)
        line = self.source.node_span(tpl.key).line
        heading = f"# PromptSource template {quote(tpl.name)} (id {' '.join(tpl.ident.split())}, line {line})"
        lines = ["", heading]
        if tpl.reference.strip():
            lines.append(f"# reference: {' '.join(tpl.reference.split())}")
        if answer_var is None:
            lines.append(f"template {tpl.slug} {literal}")
        else:
            lines += [f"template {tpl.slug} {{", f"  text: {literal}", f"  answer: {answer_var.name}", "}"]
        return lines

    def verbalizer(self, index: int, tpl: _Template) -> tuple[str, _Variable] | None:
        """A verbalizer for the label this template indexes its answer choices with."""
        if tpl.choices is None:
            return None
        labels = [v for v in self.variables.values() if any(u.kind == "label" and u.template == index for u in v.uses)]
        return (self.names.claim(f"{tpl.slug}_words"), labels[0]) if labels else None

    def run(self) -> ImportResult:
        data = self.load()
        if data is None or self.problems:
            raise DiagnosticError(self.problems)
        for index, tpl in enumerate(self.templates):
            self.analyse(index, tpl)
        self.resolve()
        if self.problems:
            raise DiagnosticError(self.problems)
        for tpl in self.templates:
            tpl.slug = self.names.claim(slug(tpl.name, lower=True))
        sections: list[str] = []
        for index, tpl in enumerate(self.templates):
            try:
                sections += self.template_source(tpl)
                words = self.verbalizer(index, tpl)
                if words is not None:
                    block, var = words
                    assert tpl.choices is not None
                    sections += ["", f"verbalizer {block} for {var.name} {{"]
                    sections += [
                        f"  {key_text(lbl)}: {quote(ch)}" for lbl, ch in zip(var.labels, tpl.choices, strict=True)
                    ]
                    sections.append("}")
            except _Problem as problem:
                self.problem(tpl, problem)
                continue
            self.template_note(index, tpl, words)
        if self.problems:
            raise DiagnosticError(self.problems)
        return ImportResult(source=self.assemble(data, sections), notes=tuple(self.notes))

    def template_note(self, index: int, tpl: _Template, words: tuple[str, _Variable] | None) -> None:
        parsed = tpl.parsed
        details = []
        if tpl.target is not None:
            expr = tpl.target.expr
            fld = expr.index if isinstance(expr, _Choice) else expr
            assert isinstance(fld, _Field)
            details.append(f"target `{self.variables['.'.join(fld.path)].name}` as the answer slot")
        else:
            details.append("no target (no `|||`): no answer slot")
        if words is not None:
            details.append(f"verbalizer `{words[0]}`")
        if parsed is not None and parsed.comments:
            details.append(f"{parsed.comments} Jinja comment(s) dropped")
        if parsed is not None and parsed.stripped:
            details.append("whitespace control applied")
        self.notes.append(
            Diagnostic(
                "I301",
                f'template `{tpl.slug}` from PromptSource template "{tpl.name}": {"; ".join(details)}',
                self.source.node_span(tpl.key),
            )
        )

    def assemble(self, data: dict[str, Any], sections: list[str]) -> str:
        dataset = " ".join(str(data.get("dataset") or "?").split())
        subset = data.get("subset")
        where = f"dataset {dataset}" + (f", subset {' '.join(str(subset).split())}" if subset else "")
        out = ["lgpt 1", "", f"# Imported from PromptSource templates ({where}).", ""]
        for var in self.variables.values():
            type_name = {
                "list": "list[text]",
                "label": "label {" + ", ".join(key_text(lbl) for lbl in var.labels) + "}",
            }.get(var.type, var.type)
            description = f"PromptSource field {var.key}"
            out.append(f"var {var.name}: {type_name} {quote(description)}")
            first = var.uses[0]
            span = self.templates[first.template].jinja.span(first.start, first.end)
            detail = f"variable `{var.name}`: {type_name}, from field `{var.key}`"
            if var.type == "label":
                detail += f' (names from the answer_choices of "{self.templates[var.labels_from].name}")'
            self.notes.append(Diagnostic("I301", detail, span))
        if self.variables:
            first_var = next(iter(self.variables.values()))
            use = first_var.uses[0]
            fields = ", ".join(f"`{v.key}`" for v in self.variables.values())
            self.notes.append(
                Diagnostic(
                    "W301",
                    f"PromptSource fields {fields} became variables",
                    self.templates[use.template].jinja.span(use.start, use.end),
                    None,
                    "give their values with --var NAME=... or --vars FILE (a label takes its name or its index)",
                )
            )
        return format_source("\n".join(out + sections) + "\n", self.path)


def _strip_ends(nodes: list[_Node]) -> list[_Node]:
    """PromptSource strips the rendered prompt: strip the literal text at both ends."""
    out = list(nodes)
    while out and isinstance(out[0], _Text):
        text = out[0].text.lstrip()
        if text:
            out[0] = _Text(text, out[0].start)
            break
        out.pop(0)
    while out and isinstance(out[-1], _Text):
        text = out[-1].text.rstrip()
        if text:
            out[-1] = _Text(text, out[-1].start)
            break
        out.pop()
    return out


def _printed(lit: _Lit) -> str:
    """How Jinja prints a literal."""
    if isinstance(lit.value, bool):
        return "True" if lit.value else "False"
    return lit.value if isinstance(lit.value, str) else lit.text


def _get(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            found: yaml.Node = v
            return found
    return None


def _scalar(node: yaml.Node | None) -> str | None:
    if not isinstance(node, yaml.ScalarNode) or str(node.tag).endswith(":null"):
        return None
    return str(node.value)


def import_text(text: str, path: str) -> ImportResult:
    """Import a PromptSource ``templates.yaml``. Raises DiagnosticError (E301/E302) on bad input."""
    return _Importer(text, path).run()
