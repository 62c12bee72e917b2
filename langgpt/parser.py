"""Source text -> typed AST.

The grammar (``grammar/lgpt.lark``, shipped as ``langgpt/grammar/lgpt.lark``) is parsed with Lark's
LALR parser and contextual lexer. ``_ToAst`` turns the parse tree into the frozen nodes of
``langgpt.ast``; syntax errors become diagnostics with what was expected and a hint.
"""

from __future__ import annotations

import bisect
import gc
import math
import re
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any, cast

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from langgpt import ast
from langgpt.ast import Span
from langgpt.errors import Diagnostic, DiagnosticError
from langgpt.sections import canonical
from langgpt.strings import decode, plain_value

SUPPORTED_VERSIONS = (1,)
TEXT_TOKENS = ("TEXT", "LINE_TEXT")

_lock = threading.Lock()
_local = threading.local()  # per-thread sinks for comments and `}` seen by the lexer during one parse
_parser: Lark | None = None


def grammar_text() -> str:
    return resources.files("langgpt").joinpath("grammar/lgpt.lark").read_text(encoding="utf-8")


def get_parser() -> Lark:
    """The shared LALR parser. Lark parsers are stateless between parses, so one instance serves all
    threads; the lock only guards its construction."""
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                _parser = _load_parser()
    return _parser


def _load_parser() -> Lark:
    """Building the LALR tables from the grammar takes ~65 ms, most of a CLI run, so the tables are
    shipped as JSON (``langgpt/_tables.json``, no pickle) keyed by the grammar's hash. When the grammar
    has changed since the tables were written, they are ignored and the grammar is compiled directly."""
    from langgpt import _lexer, _tables

    grammar = grammar_text()
    loaded = _tables.load(grammar, _CALLBACKS)
    parser = loaded if loaded is not None else build_parser(grammar)
    _lexer.install(parser)
    return parser


def build_parser(grammar: str, with_callbacks: bool = True) -> Lark:
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=False,
        maybe_placeholders=True,
        start=["start", "condition"],
        lexer_callbacks=_CALLBACKS if with_callbacks else {},
    )


def parse(text: str, path: str = "<string>") -> ast.Document:
    """Parse one source text. Raises DiagnosticError on syntax errors."""
    return parse_with_closers(text, path)[0]


def parse_with_closers(text: str, path: str = "<string>") -> tuple[ast.Document, list[tuple[int, int]]]:
    """Parse, also returning the (line, column) of every `}`: the formatter needs them to keep
    comments inside the block they were written in."""
    if text.startswith("\ufeff"):  # a byte-order mark opens the file, it is not content
        text = text[1:]
    _check_lines(text, path)
    parser = get_parser()
    comments: list[Token] = []
    closers: list[Token] = []
    openers: list[Token] = []
    outer = getattr(_local, "sinks", None)  # a parse started inside another on this thread: restore it after
    _local.sinks = {"COMMENT": comments, "RBRACE": closers, "LBRACE": openers}
    # Parsing allocates hundreds of thousands of small objects and no reference cycles: the cyclic
    # garbage collector would rescan them again and again (a third of the time on large files).
    collecting = gc.isenabled()
    gc.disable()
    try:
        tree = parser.parse(text, start="start")
        _check_nesting(openers, closers, path)
        doc: ast.Document = _ToAst(path, text).transform(tree)
    except UnexpectedInput as exc:
        raise DiagnosticError([_syntax_diagnostic(exc, text, path)]) from None
    except RecursionError:
        raise DiagnosticError([_too_deep(path)]) from None
    finally:
        _local.sinks = outer
        if collecting:
            gc.enable()
    doc = doc.model_copy(update={"comments": tuple(_comment(path, c) for c in comments)})
    return doc, [(t.line or 0, t.column or 0) for t in closers]


MAX_NESTING = 64  # blocks inside blocks; every pass recurses on nesting, so it is bounded here
MAX_LINE = 100_000  # characters on one source line


def _check_lines(text: str, path: str) -> None:
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_LINE:
            at = Span(file=path, line=number, col=MAX_LINE + 1, end_line=number, end_col=MAX_LINE + 2)
            raise DiagnosticError(
                [
                    Diagnostic(
                        "E005",
                        f"line {number} is {len(line)} characters long; the limit is {MAX_LINE}",
                        at,
                        f"lines of at most {MAX_LINE} characters",
                        "use a triple-quoted string over several lines, or a data file",
                    )
                ]
            )


def _check_nesting(openers: list[Token], closers: list[Token], path: str) -> None:
    """E121 at the first `{` that opens more than MAX_NESTING blocks at once."""
    events = sorted(
        [(t.start_pos or 0, 1, t) for t in openers] + [(t.start_pos or 0, -1, t) for t in closers], key=lambda e: e[0]
    )
    depth = 0
    for _, step, tok in events:
        depth += step
        if depth > MAX_NESTING:
            raise DiagnosticError(
                [
                    Diagnostic(
                        "E121",
                        f"blocks nested more than {MAX_NESTING} deep",
                        _token_span(path, tok),
                        f"at most {MAX_NESTING} nested blocks",
                        "split the role or template, or flatten the conditions",
                    )
                ]
            )


def _too_deep(path: str) -> Diagnostic:
    """Deep nesting that is not made of blocks (conditions, tags inside strings) ends in Python's
    recursion limit: reported as input that is too deep, never as a crash."""
    at = Span(file=path, line=1, col=1, end_line=1, end_col=1)
    return Diagnostic(
        "E121",
        "the input is nested too deeply to process",
        at,
        "conditions, tags and blocks nested at most a few dozen levels",
        "simplify the nesting",
    )


def _collect(tok: Token) -> Token:
    sinks = getattr(_local, "sinks", None)
    if sinks is not None:
        sinks[tok.type].append(tok)
    return tok


_CALLBACKS: dict[str, Callable[[Any], Any]] = {"COMMENT": _collect, "RBRACE": _collect, "LBRACE": _collect}


def parse_condition(text: str, span: Span) -> ast.Condition:
    """Parse the condition of an ``{if ...}`` tag (same grammar, rule ``condition``)."""
    try:
        tree = get_parser().parse(text, start="condition")
    except RecursionError:
        raise DiagnosticError([_too_deep(span.file)]) from None
    except UnexpectedInput as exc:
        col = span.col + (exc.column - 1 if isinstance(exc.column, int) and exc.column > 0 else 0)
        at = Span(file=span.file, line=span.line, col=col, end_line=span.line, end_col=col + 1)
        raise DiagnosticError(
            [
                Diagnostic(
                    "E117",
                    f"invalid condition `{text}`",
                    at,
                    'a condition such as `lang == "English"`, `not strict` or `a and b`',
                )
            ]
        ) from None
    return _ToAst(span.file, "", offset=(span.line - 1, span.col - 1)).transform(tree)  # type: ignore[no-any-return]


def _comment(path: str, tok: Token) -> ast.Comment:
    return ast.Comment(span=_token_span(path, tok), text=str(tok))


def _token_span(path: str, tok: Token, offset: tuple[int, int] = (0, 0)) -> Span:
    line = (tok.line or 1) + offset[0]
    col = (tok.column or 1) + (offset[1] if tok.line == 1 else 0)
    end_line = (tok.end_line or tok.line or 1) + offset[0]
    end_col = (tok.end_column or col) + (offset[1] if tok.end_line == 1 else 0)
    return Span(file=path, line=line, col=col, end_line=end_line, end_col=end_col)


# ----------------------------------------------------------------------------- syntax errors

_TOKEN_WORDS = {
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "COLON": "`:`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "COMMA": "`,`",
    "EQUAL": "`=`",
    "DOT": "`.`",
    "NAME": "a name",
    "INT": "an integer",
    "SIGNED_NUMBER": "a number",
    "TEXT": "a string",
    "LINE_TEXT": "text",
    "AT": "`@`",
    "ITEM_MARK": "a list item (`- text` or `1. text`)",
    "FIELD_COLON": "`:`",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "MODE": "`+=`",
    "COMPARE": "a comparison",
    "$END": "end of file",
}


def _expected_words(expected: set[str]) -> str:
    words = []
    for name in sorted(expected):
        word = _TOKEN_WORDS.get(name)
        if word is None:
            word = f"`{name.lower()}`" if name.isalpha() or "_" in name else name
        if word not in words:
            words.append(word)
    return ", ".join(words[:10]) + (" ..." if len(words) > 10 else "")


def _syntax_diagnostic(exc: UnexpectedInput, text: str, path: str) -> Diagnostic:
    line, col = max(exc.line, 1), max(exc.column, 1)
    span = Span(file=path, line=line, col=col, end_line=line, end_col=col + 1)
    hint = None
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        if ch == '"':
            return Diagnostic(
                "E002",
                "unterminated string",
                span,
                'a closing `"` on the same line, or `"""` for text over several lines',
            )
        expected = _expected_words(set(exc.allowed or ()))
        return Diagnostic("E001", f"unexpected character `{ch}`", span, expected or None, _hint_for_char(ch))
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return _unclosed_block(text, path, span, set(exc.expected))
        width = len(str(tok).split("\n", 1)[0]) or 1
        span = Span(file=path, line=line, col=col, end_line=line, end_col=col + width)
        prev = _previous_line_text(exc)
        if prev is not None:
            hint = "unquoted item text runs to the end of its line, so a `}` there is text: put the closing `}` on its own line"
        shown = str(tok).split("\n", 1)[0]
        return Diagnostic(
            "E001", f"unexpected {_describe_token(tok)} `{shown[:40]}`", span, _expected_words(set(exc.expected)), hint
        )
    if isinstance(exc, UnexpectedEOF):
        return Diagnostic("E001", "unexpected end of file", span, _expected_words(set(exc.expected)))
    return Diagnostic("E001", "syntax error", span)


def _unclosed_block(text: str, path: str, eof: Span, expected: set[str]) -> Diagnostic:
    """At end of file, point at the `{` that was never closed (found by replaying the real lexer)."""
    opened: list[Token] = []
    misaligned: list[Token] = []  # `{` whose matching `}` sits at another indentation: likely the real culprit
    lines = text.splitlines()
    same_line_close = None
    interactive = get_parser().parse_interactive(text, start="start")
    try:
        for tok in interactive.iter_parse():
            if tok.type == "LBRACE":
                opened.append(tok)
            elif tok.type == "RBRACE" and opened:
                start = opened.pop()
                if (
                    _indent_of(lines, start.line) != _indent_of(lines, tok.line)
                    and lines[(tok.line or 1) - 1].strip() == "}"
                ):
                    misaligned.append(start)
            elif tok.type == "LINE_TEXT" and str(tok).rstrip().endswith("}") and same_line_close is None:
                same_line_close = tok
    except UnexpectedInput:
        pass
    hint = "add the missing `}`"
    if same_line_close is not None:
        hint = (
            f"line {same_line_close.line} ends an unquoted item with `}}`, which is item text: "
            "put the closing `}` on its own line"
        )
    if not opened:
        return Diagnostic("E001", "unexpected end of file", eof, _expected_words(expected), hint)
    brace = misaligned[0] if misaligned else opened[-1]
    span = _token_span(path, brace)
    return Diagnostic(
        "E001",
        f"`{{` opened at line {brace.line} is never closed",
        span,
        "a matching `}` before the end of the file",
        hint,
    )


def _indent_of(lines: list[str], line: int | None) -> int:
    text = lines[(line or 1) - 1] if 0 < (line or 1) <= len(lines) else ""
    return len(text) - len(text.lstrip())


def _describe_token(tok: Token) -> str:
    return {"NAME": "name", "LINE_TEXT": "text", "ITEM_MARK": "list item"}.get(tok.type, "token")


def _previous_line_text(exc: UnexpectedToken) -> Token | None:
    """When the previous token is unquoted text ending in `}`, the user probably closed a block on the
    same line as an item."""
    state = getattr(exc, "state", None)
    history = getattr(exc, "token_history", None) or []
    last = history[-1] if history else None
    if last is None and state is not None:
        stack = getattr(state, "value_stack", [])
        last = next((v for v in reversed(stack) if isinstance(v, Token)), None)
    if isinstance(last, Token) and last.type == "LINE_TEXT" and str(last).rstrip().endswith("}"):
        return last
    return None


def _hint_for_char(ch: str) -> str | None:
    if ch == "'":
        return 'strings use double quotes: "text" or """text"""'
    if ch in "{}":
        return "blocks open with `{` after a name, and close with `}`"
    return None


# ----------------------------------------------------------------------------- parse tree -> AST


def _edge_token(tree: Tree[Token], index: int) -> Token | None:
    """The first (index 0) or last (index -1) token under ``tree``."""
    children = tree.children if index == 0 else list(reversed(tree.children))
    for child in children:
        if isinstance(child, Token):
            return child
        if isinstance(child, Tree):
            found = _edge_token(child, index)
            if found is not None:
                return found
    return None


def _split_annotations(children: tuple[Any, ...]) -> tuple[tuple[ast.CallValue, ...], tuple[Any, ...]]:
    count = 0
    while count < len(children) and isinstance(children[count], ast.CallValue):
        count += 1
    return tuple(children[:count]), tuple(children[count:])


def _is_text(tok: Any) -> bool:
    return isinstance(tok, Token) and tok.type in TEXT_TOKENS


class _ToAst:
    """Builds AST nodes bottom-up from the parse tree. Lark is run without position propagation
    (it cost a third of parsing), so a subtree's span runs from its first token to its last."""

    def __init__(self, path: str, text: str, offset: tuple[int, int] = (0, 0)) -> None:
        self.path = path
        self.text = text
        self.offset = offset
        self._cursor: Token | None = None  # the last token converted: the place of token-less subtrees
        self._line_starts: list[int] | None = None

    def transform(self, tree: Tree[Token]) -> Any:
        children = []
        for child in tree.children:
            if type(child) is Tree:
                children.append(self.transform(child))
            else:
                if child is not None:
                    self._cursor = child  # type: ignore[assignment]
                children.append(child)
        return _RULES[tree.data](self, tree, *children)

    # -- helpers
    def _span(self, tree_or_tok: Any) -> Span:
        if isinstance(tree_or_tok, Token):
            return _token_span(self.path, tree_or_tok, self.offset)
        first, last = _edge_token(tree_or_tok, 0), _edge_token(tree_or_tok, -1)
        if first is None or last is None:
            first = last = self._cursor or Token("X", "", line=1, column=1, end_line=1, end_column=1)
        tok = Token("X", "", line=first.line, column=first.column, end_line=last.end_line, end_column=last.end_column)
        return _token_span(self.path, tok, self.offset)

    def _closed(self, tree: Tree[Token], closer: str) -> Span:
        """A subtree's span through the closing delimiter Lark drops from the tree (`}`, `]`, `)`)."""
        span = self._span(tree)
        if self.offset != (0, 0) or not self.text:
            return span
        if self._line_starts is None:
            self._line_starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        pos = self._line_starts[span.end_line - 1] + span.end_col - 1
        while pos < len(self.text) and self.text[pos] in " \t\r\n":
            pos += 1
        if pos < len(self.text) and self.text[pos] == closer:
            line = bisect.bisect_right(self._line_starts, pos)
            col = pos - self._line_starts[line - 1] + 2
            return Span(file=span.file, line=span.line, col=span.col, end_line=line, end_col=col)
        return span

    def _text(self, tok: Token) -> ast.Text:
        span = _token_span(self.path, tok, self.offset)
        return decode(tok.type, str(tok), self.path, span.line, span.col, parse_condition)

    # -- document
    def rule_start(self, tree: Tree[Token], *children: Any) -> ast.Document:
        header = children[0] if children and isinstance(children[0], ast.Header) else None
        decls = tuple(c for c in children if not isinstance(c, ast.Header))
        span = Span(file=self.path, line=1, col=1, end_line=self.text.count("\n") + 1, end_col=1)
        return ast.Document(span=span, path=self.path, header=header, decls=decls, comments=())

    def rule_header(self, tree: Tree[Token], version: Token) -> ast.Header:
        node = ast.Header(span=self._span(tree), version=int(version))
        if node.version not in SUPPORTED_VERSIONS:
            raise DiagnosticError(
                [
                    Diagnostic(
                        "E004",
                        f"unsupported language version {node.version}",
                        self._span(version),
                        "`lgpt 1`",
                        "this compiler reads version 1 of the language",
                    )
                ]
            )
        return node

    def rule_import_decl(self, tree: Tree[Token], path: Token, alias: Token | None = None) -> ast.Import:
        return ast.Import(
            span=self._span(tree), path=plain_value(path.type, str(path)), alias=str(alias) if alias else None
        )

    # -- variables
    def rule_var_decl(self, tree: Tree[Token], name: Token, type_: ast.TypeRef, *rest: Any) -> ast.VarDecl:
        truncate = next((r[1] for r in rest if isinstance(r, tuple)), None)
        default = next((r for r in rest if not _is_text(r) and r is not None and not isinstance(r, tuple)), None)
        desc_tok = next((r for r in rest if _is_text(r)), None)
        description = plain_value(desc_tok.type, str(desc_tok)) if desc_tok is not None else None
        return ast.VarDecl(
            span=self._span(name),
            name=str(name),
            type=type_,
            default=default,
            description=description,
            truncate=truncate,
        )

    def rule_truncate(self, tree: Tree[Token], policy: Token) -> tuple[str, str]:
        if str(policy) not in ("head", "tail"):
            raise DiagnosticError(
                [
                    Diagnostic(
                        "E001",
                        f"unknown truncation policy `{policy}`",
                        self._span(policy),
                        "`truncate head` or `truncate tail`",
                    )
                ]
            )
        return ("truncate", str(policy))

    def rule_simple_type(self, tree: Tree[Token], name: Token) -> ast.TypeRef:
        return ast.TypeRef(span=self._span(tree), name=str(name), labels=(), item=None)

    def rule_label_type(self, tree: Tree[Token], name: Token, labels: list[str]) -> ast.TypeRef:
        return ast.TypeRef(span=self._closed(tree, "}"), name=str(name), labels=tuple(labels), item=None)

    def rule_list_type(self, tree: Tree[Token], name: Token, item: ast.TypeRef) -> ast.TypeRef:
        return ast.TypeRef(span=self._closed(tree, "]"), name=str(name), labels=(), item=item)

    def rule_name_list(self, tree: Tree[Token], *names: Token) -> list[str]:
        return [plain_value(n.type, str(n)) if n.type != "NAME" else str(n) for n in names]

    # -- roles
    def rule_role(self, tree: Tree[Token], *children: Any) -> ast.Role:
        annotations, (name, *rest) = _split_annotations(children)
        title = next((plain_value(r.type, str(r)) for r in rest if _is_text(r)), None)
        extends = next((r for r in rest if isinstance(r, ast.NameRef)), None)
        members = tuple(r for r in rest if isinstance(r, (ast.Section, ast.RoleIf, ast.RoleFor)))
        return ast.Role(
            span=self._span(name),
            name=str(name),
            title=title,
            extends=extends,
            members=members,
            annotations=annotations,
        )

    def rule_annotation(self, tree: Tree[Token], name: Token, *args: Any) -> ast.CallValue:
        return ast.CallValue(span=self._closed(tree, ")"), func=str(name), args=tuple(a for a in args if a is not None))

    def rule_extends(self, tree: Tree[Token], name: ast.NameRef) -> ast.NameRef:
        return name

    def rule_section(self, tree: Tree[Token], *children: Any) -> ast.Section:
        annotations, (name, *rest) = _split_annotations(children)
        body = rest[-1]
        title_tok = next((r for r in rest[:-1] if _is_text(r)), None)
        append = any(isinstance(r, Token) and r.type == "MODE" for r in rest)
        return ast.Section(
            span=self._span(name),
            name=str(name),
            canonical=canonical(str(name)),
            title=plain_value(title_tok.type, str(title_tok)) if title_tok is not None else None,
            append=append,
            body=body,
            annotations=annotations,
        )

    def rule_prose_body(self, tree: Tree[Token], tok: Token) -> ast.Text:
        return self._text(tok)

    def rule_block(self, tree: Tree[Token], *entries: Any) -> ast.Block:
        return ast.Block(span=self._span(tree), entries=self._with_depths(entries))

    def _with_depths(
        self, entries: tuple[Any, ...], columns: list[int] | None = None, shift: int = 0
    ) -> tuple[Any, ...]:
        """Item depth comes from indentation: each deeper column opens a nested level.

        The body of an `if`/`for` continues the enclosing list as if its first items stood where the
        `if`/`for` line starts: indenting a block's body is code layout, not nesting. To nest a loop's
        items under the item before it, indent the `for` line itself under that item."""
        columns = [] if columns is None else columns
        out = []
        for entry in entries:
            if isinstance(entry, ast.Item):
                col = entry.span.col - shift
                while columns and col < columns[-1]:
                    columns.pop()
                if not columns or col > columns[-1]:
                    columns.append(col)
                entry = entry.model_copy(update={"depth": len(columns) - 1})
            elif isinstance(entry, ast.EntryIf):
                branches = tuple(
                    b.model_copy(
                        update={
                            "body": self._with_depths(b.body, list(columns), self._body_shift(entry, b.body, shift))
                        }
                    )
                    for b in entry.branches
                )
                entry = entry.model_copy(update={"branches": branches})
            elif isinstance(entry, ast.EntryFor):
                body = self._with_depths(entry.body, list(columns), self._body_shift(entry, entry.body, shift))
                entry = entry.model_copy(update={"body": body})
            else:
                columns.clear()
            out.append(entry)
        return tuple(out)

    def _body_shift(self, block: ast.Node, body: tuple[Any, ...], shift: int) -> int:
        """How far a block's body is indented past the line that opens the block (itself seen
        through the enclosing blocks' shift)."""
        first = next((e for e in body if isinstance(e, (ast.Item, ast.EntryIf, ast.EntryFor))), None)
        if first is None or not self.text:
            return 0
        opener_col = self._indent_col(block.span.line) - shift
        # an item starts at its marker; a nested if/for at the start of its line (its span is its condition)
        first_col = first.span.col if isinstance(first, ast.Item) else self._indent_col(first.span.line)
        return int(first_col - opener_col)

    def _indent_col(self, line_number: int) -> int:
        if self._line_starts is None:
            self._line_starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        start = self._line_starts[line_number - 1]
        end = self.text.find("\n", start)
        line = self.text[start : end if end != -1 else len(self.text)]
        return len(line) - len(line.lstrip()) + 1

    def rule_item(self, tree: Tree[Token], mark: Token, text: Token) -> ast.Item:
        return ast.Item(span=self._span(mark), marker=str(mark), depth=0, text=self._text(text))

    def rule_field(self, tree: Tree[Token], key: Token, colon: Token, value: Token) -> ast.FieldEntry:
        key_text = plain_value(key.type, str(key)) if key.type != "NAME" else str(key)
        return ast.FieldEntry(span=self._span(key), key=key_text, value=self._text(value))

    def rule_paragraph(self, tree: Tree[Token], tok: Token) -> ast.Paragraph:
        return ast.Paragraph(span=self._span(tok), text=self._text(tok))

    def rule_subsection(self, tree: Tree[Token], *children: Any) -> ast.Subsection:
        annotations, (name, *rest) = _split_annotations(children)
        title_tok = next((r for r in rest[:-1] if _is_text(r)), None)
        title = plain_value(title_tok.type, str(title_tok)) if title_tok is not None else None
        return ast.Subsection(
            span=self._span(name), name=str(name), title=title, body=rest[-1], annotations=annotations
        )

    def _branches(
        self,
        tree: Tree[Token],
        cls: Any,
        condition: ast.Condition,
        rest: tuple[Any, ...],
    ) -> tuple[Any, ...]:
        body = tuple(r for r in rest if not isinstance(r, cls))
        first = cls(span=self._span(tree), condition=condition, body=body)
        return (first, *[r for r in rest if isinstance(r, cls)])

    def rule_role_if(self, tree: Tree[Token], condition: ast.Condition, *rest: Any) -> ast.RoleIf:
        return ast.RoleIf(span=self._span(tree), branches=self._branches(tree, ast.MemberBranch, condition, rest))

    def rule_role_elif(self, tree: Tree[Token], condition: ast.Condition, *body: Any) -> ast.MemberBranch:
        return ast.MemberBranch(span=self._span(tree), condition=condition, body=body)

    def rule_role_else(self, tree: Tree[Token], *body: Any) -> ast.MemberBranch:
        return ast.MemberBranch(span=self._span(tree), condition=None, body=body)

    def rule_role_for(self, tree: Tree[Token], var: Token, iterable: ast.NameRef, *body: Any) -> ast.RoleFor:
        return ast.RoleFor(span=self._span(tree), var=str(var), iterable=iterable, body=body)

    def rule_entry_if(self, tree: Tree[Token], condition: ast.Condition, *rest: Any) -> ast.EntryIf:
        branches = self._branches(tree, ast.EntryBranch, condition, rest)
        return ast.EntryIf(span=self._span(tree), branches=branches)

    def rule_entry_elif(self, tree: Tree[Token], condition: ast.Condition, *body: Any) -> ast.EntryBranch:
        return ast.EntryBranch(span=self._span(tree), condition=condition, body=body)

    def rule_entry_else(self, tree: Tree[Token], *body: Any) -> ast.EntryBranch:
        return ast.EntryBranch(span=self._span(tree), condition=None, body=body)

    def rule_entry_for(self, tree: Tree[Token], var: Token, iterable: ast.NameRef, *body: Any) -> ast.EntryFor:
        return ast.EntryFor(span=self._span(tree), var=str(var), iterable=iterable, body=body)

    # -- examples
    def rule_examples(self, tree: Tree[Token], name: Token, *rest: Any) -> ast.Examples:
        source = next((r for r in rest if isinstance(r, ast.ExampleSource)), None)
        settings = tuple(r for r in rest if isinstance(r, ast.ExampleSetting))
        records = tuple(r for r in rest if isinstance(r, ast.Record))
        priority = next((r[1] for r in rest if isinstance(r, tuple) and r[0] == "priority"), 0)
        return ast.Examples(
            span=self._span(name), name=str(name), source=source, settings=settings, records=records, priority=priority
        )

    def rule_priority(self, tree: Tree[Token], value: Token) -> tuple[str, int]:
        try:
            return ("priority", int(str(value)))
        except ValueError:
            raise DiagnosticError(
                [
                    Diagnostic(
                        "E001", f"priority `{value}` is not a whole number", self._span(value), "e.g. `priority 2`"
                    )
                ]
            ) from None

    def rule_source(self, tree: Tree[Token], path: Token, *picks: tuple[str, Any]) -> ast.ExampleSource:
        opts = dict(picks)
        return ast.ExampleSource(
            span=self._span(tree),
            path=plain_value(path.type, str(path)),
            k=opts.get("k"),
            seed=opts.get("seed"),
            balanced_by=opts.get("balanced_by"),
        )

    def rule_pick_k(self, tree: Tree[Token], n: Token) -> tuple[str, Any]:
        return ("k", int(n))

    def rule_pick_seed(self, tree: Tree[Token], n: Token) -> tuple[str, Any]:
        return ("seed", int(n))

    def rule_pick_balanced(self, tree: Tree[Token], name: Token) -> tuple[str, Any]:
        return ("balanced_by", str(name))

    def rule_example_setting(self, tree: Tree[Token], name: Token, value: Token) -> ast.ExampleSetting:
        return ast.ExampleSetting(span=self._span(name), name=str(name), value=self._text(value))

    def rule_record(self, tree: Tree[Token], *fields: ast.RecordField) -> ast.Record:
        return ast.Record(span=self._closed(tree, "}"), fields=fields)

    def rule_record_field(self, tree: Tree[Token], name: Token, value: Any) -> ast.RecordField:
        return ast.RecordField(span=self._span(name), name=str(name), value=value)

    # -- templates
    def rule_template(self, tree: Tree[Token], name: Token, *rest: Any) -> ast.Template:
        text = self._text(rest[0]) if rest and _is_text(rest[0]) else None
        members = tuple(r for r in rest if isinstance(r, ast.TemplateMember))
        return ast.Template(span=self._span(name), name=str(name), text=text, members=members)

    def rule_template_member(self, tree: Tree[Token], key: Token, value: Any) -> ast.TemplateMember:
        if _is_text(value):
            value = self._text(value)
        return ast.TemplateMember(span=self._span(key), key=str(key), value=value)

    def rule_role_ref(self, tree: Tree[Token], name: ast.NameRef) -> ast.RoleRef:
        return ast.RoleRef(span=self._span(tree), name=name.name)

    # -- config blocks
    def rule_config_block(self, tree: Tree[Token], kind: str, *rest: Any) -> ast.ConfigBlock:
        names = [str(r) for r in rest if isinstance(r, Token)]
        settings = tuple(r for r in rest if isinstance(r, ast.Setting))
        name = names[0] if names else None
        target = next((r[1] for r in rest if isinstance(r, tuple)), None)
        return ast.ConfigBlock(
            span=self._span(tree), kind=cast(ast.ConfigKind, kind), name=name, target=target, settings=settings
        )

    def rule_config_target(self, tree: Tree[Token], name: Token) -> tuple[str, str]:
        return ("target", str(name))

    def rule_config_kind(self, tree: Tree[Token], tok: Token) -> str:
        return str(tok)

    def rule_setting(self, tree: Tree[Token], key: Token, *values: Any) -> ast.Setting:
        key_text = plain_value(key.type, str(key)) if key.type != "NAME" else str(key)
        return ast.Setting(span=self._span(key), key=key_text, values=values)

    def rule_call(self, tree: Tree[Token], func: Token, *args: Any) -> ast.CallValue:
        return ast.CallValue(span=self._closed(tree, ")"), func=str(func), args=tuple(a for a in args if a is not None))

    def rule_argument(self, tree: Tree[Token], *parts: Any) -> ast.Argument:
        name, value = parts if len(parts) == 2 else (None, parts[0])
        return ast.Argument(span=self._span(tree), name=str(name) if name else None, value=value)

    # -- values
    def rule_string_value(self, tree: Tree[Token], tok: Token) -> ast.StrValue:
        return ast.StrValue(span=self._span(tok), value=plain_value(tok.type, str(tok)))

    def rule_number_value(self, tree: Tree[Token], tok: Token) -> ast.NumValue:
        text = str(tok)
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
        if isinstance(value, float) and not math.isfinite(value):
            raise DiagnosticError(
                [
                    Diagnostic(
                        "E001", f"number `{text}` is out of range", self._span(tok), "a number a 64-bit float can hold"
                    )
                ]
            )
        return ast.NumValue(span=self._span(tok), value=value, text=text)

    def rule_true_value(self, tree: Tree[Token], tok: Token) -> ast.BoolValue:
        return ast.BoolValue(span=self._span(tok), value=True)

    def rule_false_value(self, tree: Tree[Token], tok: Token) -> ast.BoolValue:
        return ast.BoolValue(span=self._span(tok), value=False)

    def rule_name_value(self, tree: Tree[Token], name: ast.NameRef) -> ast.NameRef:
        return name

    def rule_list_value(self, tree: Tree[Token], *items: Any) -> ast.ListValue:
        return ast.ListValue(span=self._closed(tree, "]"), items=tuple(i for i in items if i is not None))

    def rule_dotted_name(self, tree: Tree[Token], *parts: Token) -> ast.NameRef:
        return ast.NameRef(span=self._span(tree), name=".".join(str(p) for p in parts))

    # -- conditions
    def rule_or_cond(self, tree: Tree[Token], *operands: Any) -> ast.BoolOp:
        return ast.BoolOp(span=self._span(tree), kind="or", operands=operands)

    def rule_and_cond(self, tree: Tree[Token], *operands: Any) -> ast.BoolOp:
        return ast.BoolOp(span=self._span(tree), kind="and", operands=operands)

    def rule_negation(self, tree: Tree[Token], operand: Any) -> ast.Not:
        return ast.Not(span=self._span(tree), operand=operand)

    def rule_comparison(self, tree: Tree[Token], left: Any, op: Token, right: Any) -> ast.Compare:
        return ast.Compare(span=self._span(tree), op=cast(ast.CompareOp, str(op)), left=left, right=right)


_RULES = {name[len("rule_") :]: func for name, func in vars(_ToAst).items() if name.startswith("rule_")}
