"""Fast row rendering: a template compiled once into a plan, then rendered for many rows.

``langgpt.compile`` re-checks every value and rebuilds the evaluation context on each call, which is
right for one prompt and slow for a data set. ``compile_template`` walks the template's AST once and
turns it into a plan of small closures: constant text (adjacent pieces merged), variable lookups
(``operator.itemgetter`` on the row's typed values, ``to_text`` where the type is not text),
``{if}`` and ``{for}`` pieces, and the parts that do not depend on the row computed once. Roles and
few-shot blocks are rendered by the interpreter itself (``langgpt.render``) and memoised on the values
of the variables they read, so a role that reads ``{lang}`` is rendered once per language, and shots
whose formats read only their own rows' fields are rendered once in all. Nothing here generates,
compiles or evaluates Python source: the plan is data and closures only.

The output is exactly the interpreter's (``tests/test_dataset.py`` compares both on every template in
``prompts/`` and on a fixture that uses every construct)::

    plan = compile_template(program, "classify_text")
    values = plan.values({"sentence": "Great phone.", "label": 1})   # typed, checked: RowError if not
    raw = plan.render(values)                                         # the text with the answer slot
    plan.text(raw)                  # what `lgpt compile --target text` prints (no answer)
    plan.text(raw, answer="great")  # ... with the answer filled in

Row values are checked against the declared types: a label may be given by name or index, CSV/TSV
cells (``strings=True``) are read like ``--var`` values ("14" for an int), text must not be empty
(unless ``allow_empty_text``), and every problem is a ``RowError`` naming the field.

Few-shot rows drawn from the data file being rendered never include the row itself: pass that file as
``data_path`` and the row's index (its position among the file's rows, as ``langgpt.data.read_rows``
counts them) to ``values``; when the selected shots contain that row, it is replaced by the next
candidate (same group under ``balanced by``; in seeded order, else file order).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

from langgpt import ast
from langgpt.data import DataError, Row, read_rows, select
from langgpt.errors import Diagnostic, DiagnosticError, UsageError
from langgpt.loader import Module, Program, display_path
from langgpt.render import ANSWER_MARKER, MAX_OUTPUT_CHARS, Context, TemplateRenderer
from langgpt.scope import ANSWER, declarations, lookup, lookup_role
from langgpt.types import ValueTypeError, VarValue, check_value, coerce_cli, literal_value, to_text

#: The answer slot, as the interpreter marks it before filling.
SLOT = "\0ANSWER\0"
#: Key of the row's index in a values dict (cannot clash with a variable name).
INDEX_KEY = "\0index"
_LOOP = "\0loop:"
_MISSING: Any = object()
_MEMO_LIMIT = 4096

Vals = dict[str, Any]
Getter = Callable[[Vals], Any]
TextFn = Callable[[Vals], str]
Piece = str | TextFn
Chat = list[tuple[str, str]]
Raw = str | Chat


class RowError(ValueError):
    """A row's value does not fit its variable (or is missing); ``field`` names the variable."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"field `{field}`: {reason}" if field else reason)
        self.field = field
        self.reason = reason


def _problem(code: str, message: str, span: ast.Span | None, expected: str | None = None) -> DiagnosticError:
    return DiagnosticError([Diagnostic(code, message, span, expected)])


def _raiser(error: DiagnosticError) -> Getter:
    def fail(v: Vals) -> Any:
        raise error

    return fail


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _show(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


# ----------------------------------------------------------------------------- filling the answer slot


def fill_text(text: str, answer: str | None) -> str:
    """``TemplateRenderer.fill_answer``: the answer, else nothing at the end, else ``[ANSWER]``."""
    if answer is not None:
        return text.replace(SLOT, answer)
    if text.endswith(SLOT):
        text = text[: -len(SLOT)].rstrip(" \t")
    return text.replace(SLOT, ANSWER_MARKER)


def fill_chat(messages: Chat, answer: str | None) -> Chat:
    """``TemplateRenderer.fill_messages`` on (role, content) pairs."""
    last = len(messages) - 1
    other = answer if answer is not None else ANSWER_MARKER
    filled = [
        (role, fill_text(content, answer) if i == last else content.replace(SLOT, other))
        for i, (role, content) in enumerate(messages)
    ]
    if filled and filled[-1][0] == "assistant" and not filled[-1][1]:
        filled.pop()
    return filled


# ----------------------------------------------------------------------------- pieces


def _join(pieces: Iterable[Piece]) -> Piece:
    """One piece for a sequence: constants merged; one lookup between two constants is two
    concatenations; more become a list filled in place and joined."""
    merged: list[Piece] = []
    for p in pieces:
        if isinstance(p, str):
            if not p:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] = merged[-1] + p
                continue
        merged.append(p)
    if not merged:
        return ""
    if len(merged) == 1:
        return merged[0]
    calls = [(i, p) for i, p in enumerate(merged) if not isinstance(p, str)]
    if len(calls) == 1:
        i, fn = calls[0]
        head = "".join(cast(list[str], merged[:i]))
        tail = "".join(cast(list[str], merged[i + 1 :]))
        if head and tail:
            return lambda v: head + fn(v) + tail
        if head:
            return lambda v: head + fn(v)
        return lambda v: fn(v) + tail
    template = [p if isinstance(p, str) else "" for p in merged]
    funcs = tuple(calls)

    def run(v: Vals) -> str:
        out = template.copy()
        for i, fn in funcs:
            out[i] = fn(v)
        return "".join(out)

    return run


def _checked(piece: Piece, span: ast.Span) -> Piece:
    """The interpreter's limit on one text's length (E117)."""
    if isinstance(piece, str):
        return piece

    def run(v: Vals) -> str:
        out = piece(v)
        if len(out) > MAX_OUTPUT_CHARS:
            raise _problem(
                "E117",
                f"text expands to {len(out)} characters, over the {MAX_OUTPUT_CHARS} limit",
                span,
                "smaller loops or values",
            )
        return out

    return run


def _attribute(value: Any, parts: tuple[str, ...], name: str, span: ast.Span) -> Any:
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise _problem("E101", f"`{name}` has no field `{part}`", span, "a field of the record")
    return value


# ----------------------------------------------------------------------------- row values


def _checker(name: str, t: ast.TypeRef, allow_empty: bool) -> Callable[[Any, bool], Any]:
    """A function (raw value, from_strings) -> typed value, raising RowError."""

    def slow(raw: Any, strings: bool) -> Any:
        try:
            if strings and isinstance(raw, str):
                return coerce_cli(raw, t)
            return check_value(raw, t)
        except ValueTypeError as exc:
            raise RowError(name, f"expected {exc}") from None

    if t.name == "text":

        def text(raw: Any, strings: bool) -> Any:
            if type(raw) is str and raw and not raw.isspace():
                return raw
            if isinstance(raw, str):
                if allow_empty:
                    return raw
                raise RowError(name, "empty text")
            return slow(raw, strings)

        return text
    if t.name == "label":
        labels = t.labels
        known: dict[Any, str] = {str(i): label for i, label in enumerate(labels)}
        known.update({i: label for i, label in enumerate(labels)})
        known.update({label: label for label in labels})
        expected = f"expected {', '.join(labels)} or 0..{len(labels) - 1}"

        def label(raw: Any, strings: bool) -> Any:
            kind = type(raw)
            if kind is str or kind is int:
                found = known.get(raw)
                if found is not None:
                    return found
            try:
                return check_value(raw, t)
            except ValueTypeError:
                raise RowError(name, f"unknown label {_show(raw)} ({expected})") from None

        return label
    return slow


# ----------------------------------------------------------------------------- the plan


class CompiledTemplate:
    """A template compiled for many rows (build with ``compile_template``)."""

    def __init__(
        self,
        name: str,
        chat: bool,
        body: Piece,
        messages: list[tuple[str, Piece] | Callable[[Vals], Chat]],
        defaults: Vals,
        checks: list[tuple[str, str, Callable[[Any, bool], Any]]],
        fields: dict[str, str],
        answer: tuple[str, ast.VarDecl] | None,
    ) -> None:
        self.name = name
        self.chat = chat
        self._body = body
        self._messages = messages
        self._defaults = defaults
        self._checks = checks
        self._fields = fields  # value key -> field (variable) name
        self._answer = answer
        #: declared variable names a row may give (other fields are ignored)
        self.field_names = tuple(dict.fromkeys(name for name, _, _ in checks))

    # -- answers
    @property
    def answer_name(self) -> str | None:
        """The answer variable: the template's ``answer:``; without one, the variable a verbalizer of
        the file is for, else the first ``answer:`` of another template (None when there is none)."""
        return self._answer[1].name if self._answer else None

    @property
    def answer_type(self) -> ast.TypeRef | None:
        return self._answer[1].type if self._answer else None

    def answer_value(self, values: Vals) -> VarValue:
        """The typed value of the ``answer:`` variable (RowError when the row has none)."""
        if self._answer is None:
            raise RowError(None, f"template `{self.name}` has no `answer:` variable")
        key, decl = self._answer
        if key not in values:
            raise RowError(decl.name, "missing field")
        return values[key]

    def has_answer(self, values: Vals) -> bool:
        """Whether the row gave the ``answer:`` variable a value."""
        return self._answer is not None and self._answer[0] in values

    # -- values
    def values(self, row: Mapping[str, Any], *, strings: bool = False, index: int | None = None) -> Vals:
        """The row's typed values (declared variables only, over the defaults). ``strings``: the
        values are CSV/TSV cells, read like ``--var`` values. ``index``: the row's position in its
        file, for excluding it from shots drawn from the same file."""
        vals = self._defaults.copy()
        get = row.get
        for name, key, check in self._checks:
            raw = get(name, _MISSING)
            if raw is _MISSING or raw is None:
                continue
            vals[key] = check(raw, strings)
        if index is not None:
            vals[INDEX_KEY] = index
        return vals

    # -- rendering
    def render(self, values: Vals) -> Raw:
        """The template for one row's values, with the answer slot (``SLOT``) not yet filled:
        a string for a text template, (role, content) pairs for a chat template."""
        try:
            if not self.chat:
                body = self._body
                return body if isinstance(body, str) else body(values)
            out: Chat = []
            for item in self._messages:
                if isinstance(item, tuple):
                    role, piece = item
                    out.append((role, piece if isinstance(piece, str) else piece(values)))
                else:
                    out.extend(item(values))
            return out
        except KeyError as exc:
            key = exc.args[0] if exc.args else None
            if isinstance(key, str) and key in self._fields:
                raise RowError(self._fields[key], "missing field (no value and no default)") from None
            raise

    def text(self, raw: Raw, answer: str | None = None) -> str:
        """What the text target gives: the answer filled in, or left empty / ``[ANSWER]``."""
        if isinstance(raw, str):
            return fill_text(raw, answer)
        return "\n\n".join(content for _, content in fill_chat(raw, answer))

    def slotted(self, raw: Raw) -> str:
        """The whole text with every answer slot still marked (``SLOT``), as one string."""
        if isinstance(raw, str):
            return raw
        return "\n\n".join(content for _, content in fill_chat(raw, SLOT))

    def prompt(self, row: Mapping[str, Any], *, strings: bool = False, answer: str | None = None) -> str:
        """Check one row and render it as the text target would."""
        raw = self.render(self.values(row, strings=strings))
        return fill_text(raw, answer) if isinstance(raw, str) else self.text(raw, answer)


def compile_template(
    program: Program,
    entry: str | ast.Template | None = None,
    *,
    data_path: Path | None = None,
    variables: Mapping[str, VarValue] | None = None,
    allow_empty_text: bool = False,
) -> CompiledTemplate:
    """Compile a template of ``program`` (default: the first) into a plan.

    ``variables``: values for every row (a row's own field wins); strings are read like ``--var``
    values. ``data_path``: the data file the rows come from, so shots drawn from that same file skip
    the row being rendered. The program is not checked here: run ``langgpt.check`` first."""
    return _Planner(program, data_path, allow_empty_text).template(entry, variables or {})


class _Planner:
    def __init__(self, program: Program, data_path: Path | None, allow_empty: bool) -> None:
        self.program = program
        self.data_path = data_path.resolve() if data_path is not None else None
        self.allow_empty = allow_empty
        self.module_index = {id(m): i for i, m in enumerate(program.modules)}
        self.fields: dict[str, str] = {}  # value key -> variable name
        self.decls: dict[str, ast.VarDecl] = {}  # value key -> declaration
        for module in program.modules:
            for decl in declarations(module).values():
                if isinstance(decl, ast.VarDecl):
                    key = self.key(module, decl)
                    self.fields[key] = decl.name
                    self.decls[key] = decl

    def key(self, module: Module, decl: ast.VarDecl) -> str:
        index = self.module_index.get(id(module), 0)
        return decl.name if index == 0 else f"{decl.name}\0{index}"

    # -- the template
    def template(self, entry: str | ast.Template | None, variables: Mapping[str, VarValue]) -> CompiledTemplate:
        main = self.program.main
        decl = self._select(entry)
        checks = [
            (decl_.name, key, _checker(decl_.name, decl_.type, self.allow_empty)) for key, decl_ in self.decls.items()
        ]
        defaults: Vals = {}
        for key, var in self.decls.items():
            if var.default is not None:
                try:
                    defaults[key] = check_value(literal_value(var.default), var.type)
                except ValueTypeError:
                    defaults[key] = ""  # reported by the declarations check
        given = self._given(variables, checks)
        defaults.update(given)

        answer = self._answer(decl)

        text_node = decl.text or next(
            (m.value for m in decl.members if m.key == "text" and isinstance(m.value, ast.Text)), None
        )
        if text_node is not None:
            body = _checked(self.text(main, text_node, frozenset(), True), text_node.span)
            return CompiledTemplate(decl.name, False, body, [], defaults, checks, self.fields, answer)
        messages: list[tuple[str, Piece] | Callable[[Vals], Chat]] = []
        for member in decl.members:
            value = member.value
            if member.key in ("system", "user", "assistant"):
                if isinstance(value, ast.RoleRef):
                    messages.append((member.key, self.role_ref(main, value)))
                elif isinstance(value, ast.Text):
                    messages.append((member.key, _checked(self.text(main, value, frozenset(), True), value.span)))
            elif member.key == "shots" and isinstance(value, ast.NameRef):
                found = lookup(main, value.name)
                if found is not None and isinstance(found.decl, ast.Examples):
                    messages.append(self.shots(found.module, found.decl, chat=True))
        return CompiledTemplate(decl.name, True, "", messages, defaults, checks, self.fields, answer)

    def _select(self, entry: str | ast.Template | None) -> ast.Template:
        if isinstance(entry, ast.Template):
            return entry
        from langgpt.compiler import select_entry

        decl = select_entry(self.program, entry)
        if not isinstance(decl, ast.Template):
            templates = ", ".join(t.name for t in self.program.document.templates()) or "none"
            raise UsageError(f"`{decl.name}` is a role, not a template (templates in this file: {templates})")
        return decl

    def _answer(self, decl: ast.Template) -> tuple[str, ast.VarDecl] | None:
        """The variable whose value is the answer: the template's ``answer:``; for a template
        without one, the variable a verbalizer of the file is for, else the first ``answer:`` of
        another template of the file."""
        main = self.program.main
        names = [m.value.name for m in decl.members if m.key == "answer" and isinstance(m.value, ast.NameRef)]
        if not names:
            names = [b.target for b in self.program.document.configs() if b.kind == "verbalizer" and b.target]
            names += [
                m.value.name
                for t in self.program.document.templates()
                for m in t.members
                if m.key == "answer" and isinstance(m.value, ast.NameRef)
            ]
        for name in names[:1]:
            found = lookup(main, name)
            if found is not None and isinstance(found.decl, ast.VarDecl):
                return self.key(found.module, found.decl), found.decl
        return None

    def _given(self, variables: Mapping[str, VarValue], checks: list[tuple[str, str, Any]]) -> Vals:
        """Values for every row, checked like ``langgpt.compile`` checks them (E118, E111)."""
        problems = []
        known = {name for name, _, _ in checks}
        for name in sorted(set(variables) - known):
            problems.append(
                Diagnostic(
                    "E118", f"value given for undeclared variable `{name}`", None, "a variable declared with `var`"
                )
            )
        out: Vals = {}
        for name, key, check in checks:
            if name in variables and variables[name] is not None:
                try:
                    out[key] = check(variables[name], True)
                except RowError as exc:
                    decl = self.decls[key]
                    problems.append(
                        Diagnostic(
                            "E111",
                            f"value given for `{name}` does not match its type {decl.type.describe()}",
                            decl.span,
                            exc.reason,
                        )
                    )
        if problems:
            raise DiagnosticError(problems)
        return out

    # -- text
    def text(self, module: Module, node: ast.Text, scope: frozenset[str], template: bool) -> Piece:
        return self.segments(module, node.segments, scope, template)

    def segments(
        self, module: Module, segments: tuple[ast.Segment, ...], scope: frozenset[str], template: bool
    ) -> Piece:
        pieces: list[Piece] = []
        for seg in segments:
            if isinstance(seg, ast.TextSeg):
                pieces.append(seg.text)
            elif isinstance(seg, ast.RefSeg):
                pieces.append(f"<{seg.name}>")
            elif isinstance(seg, ast.InterpSeg):
                if template and seg.name == ANSWER and ANSWER not in scope:
                    pieces.append(SLOT)
                else:
                    getter, is_text = self.value(module, seg.name, scope, seg.span, template)
                    pieces.append(getter if is_text else _to_text(getter))
            elif isinstance(seg, ast.IfSeg):
                pieces.append(self.if_piece(module, seg, scope, template))
            else:
                pieces.append(self.for_piece(module, seg, scope, template))
        return _join(pieces)

    def if_piece(self, module: Module, seg: ast.IfSeg, scope: frozenset[str], template: bool) -> Piece:
        branches: list[tuple[Getter | None, Piece]] = []
        for branch in seg.branches:
            cond = None if branch.condition is None else self.condition(module, branch.condition, scope)
            branches.append((cond, self.segments(module, branch.body, scope, template)))
            if cond is None:
                break
        if branches and branches[0][0] is None:
            return branches[0][1]

        def run(v: Vals) -> str:
            for cond, body in branches:
                if cond is None or cond(v):
                    return body if isinstance(body, str) else body(v)
            return ""

        return run

    def for_piece(self, module: Module, seg: ast.ForSeg, scope: frozenset[str], template: bool) -> Piece:
        items = self.iterable(module, seg.iterable, scope, seg.span)
        body = self.segments(module, seg.body, scope | {seg.var}, template)
        key = _LOOP + seg.var

        def run(v: Vals) -> str:
            values = items(v)
            if isinstance(body, str):
                return body * len(values)
            saved = v.get(key, _MISSING)
            out = []
            try:
                for value in values:
                    v[key] = value
                    out.append(body(v))
            finally:
                if saved is _MISSING:
                    v.pop(key, None)
                else:
                    v[key] = saved
            return "".join(out)

        return run

    def iterable(self, module: Module, name: str, scope: frozenset[str], span: ast.Span) -> Callable[[Vals], list[Any]]:
        getter, _ = self.value(module, name, scope, span, False)
        error = _problem(
            "E117", f"`{name}` is not a list, so it cannot be looped over", span, "a list variable (list[T])"
        )

        def items(v: Vals) -> list[Any]:
            value = getter(v)
            if isinstance(value, list):
                return value
            if value == "":
                return []
            raise error

        return items

    # -- values and conditions
    def value(
        self, module: Module, name: str, scope: frozenset[str], span: ast.Span, template: bool
    ) -> tuple[Getter, bool]:
        """A getter for what ``Renderer.lookup_value`` returns, and whether it is always text."""
        head, _, rest = name.partition(".")
        parts = tuple(rest.split(".")) if rest else ()
        if head in scope:
            get = itemgetter(_LOOP + head)
            if not parts:
                return get, False
            return (lambda v: _attribute(get(v), parts, name, span)), False
        found = lookup(module, name)
        if found is None and rest:
            found = lookup(module, head)
            if found is not None and isinstance(found.decl, ast.VarDecl):
                var = itemgetter(self.key(found.module, found.decl))
                return (lambda v: _attribute(var(v), parts, name, span)), False
        if found is None:
            return _raiser(_problem("E101", f"undefined name `{name}`", span, "a declared variable")), False
        decl = found.decl
        if isinstance(decl, ast.VarDecl):
            return itemgetter(self.key(found.module, decl)), decl.type.name in ("text", "label")
        if template and isinstance(decl, ast.Examples):
            return self.shots(found.module, decl, chat=False), True
        if template and isinstance(decl, ast.Role):
            return self.role(found.module, decl), True
        error = _problem("E101", f"`{name}` is a {decl.kind}, not a variable", span, "a variable")
        return _raiser(error), False

    def condition(self, module: Module, cond: ast.Condition, scope: frozenset[str]) -> Getter:
        if isinstance(cond, ast.NameRef):
            return self.value(module, cond.name, scope, cond.span, False)[0]
        if isinstance(cond, (ast.StrValue, ast.NumValue, ast.BoolValue)):
            constant = cond.value
            return lambda v: constant
        if isinstance(cond, ast.Not):
            operand = self.condition(module, cond.operand, scope)
            return lambda v: not operand(v)
        if isinstance(cond, ast.BoolOp):
            ops = tuple(self.condition(module, op, scope) for op in cond.operands)
            if cond.kind == "and":
                return lambda v: all(bool(op(v)) for op in ops)
            return lambda v: any(bool(op(v)) for op in ops)
        if isinstance(cond, ast.Compare):
            return self.compare(module, cond, scope)
        raise AssertionError(cond)

    def compare(self, module: Module, cond: ast.Compare, scope: frozenset[str]) -> Getter:
        left, right = self.condition(module, cond.left, scope), self.condition(module, cond.right, scope)
        op = cond.op
        if op == "==":
            return lambda v: bool(left(v) == right(v))
        if op == "!=":
            return lambda v: bool(left(v) != right(v))
        span = cond.span

        def ordered(v: Vals) -> bool:
            a, b = left(v), right(v)
            numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
            if not numeric and not (isinstance(a, str) and isinstance(b, str)):
                raise _problem(
                    "E117",
                    f"`{op}` compares {type(a).__name__} with {type(b).__name__}",
                    span,
                    "two numbers or two strings",
                )
            return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])

        return ordered

    # -- roles and shots: the interpreter, memoised on the variables they read
    def role_ref(self, module: Module, ref: ast.RoleRef) -> Piece:
        found = lookup_role(module, ref.name)
        if found is None:
            return cast(TextFn, _raiser(_problem("E108", f"unknown role `{ref.name}`", ref.span, "a role")))
        return self.role(found.module, cast(ast.Role, found.decl))

    def role(self, module: Module, role: ast.Role) -> TextFn:
        from langgpt.targets.text import role_markdown

        keys = sorted(self.role_deps(module, role, set()))

        def compute(values: dict[str, Any], index: int | None) -> str:
            ctx = Context(self.program, values)
            text = role_markdown(TemplateRenderer(ctx).role(module, role)).rstrip("\n")
            ctx.fail_if_problems()
            return text

        return cast(TextFn, self.memo(keys, compute))

    def role_deps(self, module: Module, role: ast.Role, seen: set[tuple[int, str]]) -> set[str]:
        """Value keys of every variable the role (and the roles it extends) may read."""
        if (id(module), role.name) in seen:
            return set()
        seen.add((id(module), role.name))
        keys = self.names_to_keys(module, _names(role))
        if role.extends is not None:
            parent = lookup_role(module, role.extends.name)
            if parent is not None:
                keys |= self.role_deps(parent.module, cast(ast.Role, parent.decl), seen)
        return keys

    def names_to_keys(self, module: Module, names: Iterable[str]) -> set[str]:
        keys: set[str] = set()
        for name in names:
            for candidate in (name, name.partition(".")[0]):
                found = lookup(module, candidate)
                if found is not None and isinstance(found.decl, ast.VarDecl):
                    keys.add(self.key(found.module, found.decl))
        return keys

    def shots(self, module: Module, examples: ast.Examples, chat: bool) -> Callable[[Vals], Any]:
        """Shot text (``{pool}`` in a text template) or shot messages (``shots:`` of a chat one)."""
        rows: list[Row] | None = None
        picks: list[int] | None = None
        exclude = False
        source = examples.source
        if source is not None:
            from langgpt.checks.examples import data_path

            path, _ = data_path(self.program, module, source)
            if path is not None:
                try:
                    rows = read_rows(path, display_path(path))
                except DataError:
                    rows = None  # the interpreter reports it (E115) when the shots are rendered
            if rows is not None:
                position = {id(r): i for i, r in enumerate(rows)}
                picks = [position[id(r)] for r in select(rows, source.k, source.seed, source.balanced_by)]
                exclude = path is not None and self.data_path is not None and path.resolve() == self.data_path
            candidates = rows or []
        else:
            candidates = [{f.name: True for f in record.fields} for record in examples.records]

        names: set[str] = set()
        for setting in examples.settings:
            used = _names(setting.value)
            if setting.name != "separator":
                used = {n for n in used if not all(n.partition(".")[0] in row for row in candidates)}
            names |= used
        keys = sorted(self.names_to_keys(module, names))
        affected = frozenset(picks or ()) if exclude else frozenset()

        def compute(values: dict[str, Any], index: int | None) -> Any:
            ctx = Context(self.program, values)
            chosen: dict[int, list[Row]] = {}
            if rows is not None and picks is not None and source is not None:
                indices = picks if index is None else _replace(rows, picks, index, source.seed, source.balanced_by)
                chosen[id(examples)] = [rows[i] for i in indices]
            renderer = _ShotRenderer(ctx, chosen)
            result: Any
            if chat:
                result = [(m.role, m.content) for m in renderer.shot_messages(module, examples)]
            else:
                result = renderer.shots_text(module, examples)
            ctx.fail_if_problems()
            return result

        return self.memo(keys, compute, affected)

    def memo(
        self,
        keys: list[str],
        compute: Callable[[dict[str, Any], int | None], Any],
        affected: frozenset[int] = frozenset(),
    ) -> Callable[[Vals], Any]:
        """``compute`` (the interpreter) called once per distinct value of the variables it reads
        (``keys``) and, for shots drawn from the rendered file, per row that would be among them."""
        names = [(key, self.fields[key]) for key in keys]
        if not keys and not affected:
            try:
                constant = compute({}, None)
            except DiagnosticError as exc:
                return _raiser(exc)
            return lambda v: constant
        cache: dict[Any, Any] = {}
        lists = any(self.decls[key].type.name == "list" for key in keys)

        def run(v: Vals) -> Any:
            index = v.get(INDEX_KEY)
            if index not in affected:
                index = None
            if lists:
                memo_key: Any = (index, *(_hashable(v.get(key, _MISSING)) for key in keys))
            else:
                memo_key = (index, *(v.get(key, _MISSING) for key in keys))
            found = cache.get(memo_key, _MISSING)
            if found is not _MISSING:
                return found
            result = compute({name: v[key] for key, name in names if key in v}, index)
            if len(cache) >= _MEMO_LIMIT:
                cache.clear()
            cache[memo_key] = result
            return result

        return run


def _to_text(getter: Getter) -> TextFn:
    return lambda v: to_text(getter(v))


def _names(node: Any) -> set[str]:
    """Every name a subtree may read: interpolations, condition operands and loop iterables."""
    out: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(item)
            continue
        if not isinstance(item, ast.Node):
            continue
        if isinstance(item, (ast.InterpSeg, ast.NameRef)):
            out.add(item.name)
        elif isinstance(item, ast.ForSeg):
            out.add(item.iterable)
        stack.extend(getattr(item, field) for field in item._fields)
    return out


class _ShotRenderer(TemplateRenderer):
    """The interpreter, with the rows of some example sets chosen by the caller."""

    def __init__(self, ctx: Context, rows: dict[int, list[Row]]) -> None:
        super().__init__(ctx)
        self._rows = rows

    def shot_rows(self, module: Module, examples: ast.Examples) -> list[Row]:
        rows = self._rows.get(id(examples))
        return super().shot_rows(module, examples) if rows is None else rows


def _group(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def _replace(rows: list[Row], picks: list[int], drop: int, seed: int | None, balanced_by: str | None) -> list[int]:
    """The picks without row ``drop``, replaced by the next candidate: rows in seeded order (file
    order without a seed), preferring the dropped row's group under ``balanced by``."""
    if drop not in picks:
        return picks
    order = list(range(len(rows)))
    if seed is not None:
        random.Random(seed).shuffle(order)
    taken = set(picks)
    free = [i for i in order if i not in taken]
    if balanced_by is not None:
        group = _group(rows[drop].get(balanced_by))
        free = [i for i in free if _group(rows[i].get(balanced_by)) == group] or free
    out = list(picks)
    position = out.index(drop)
    if free:
        out[position] = free[0]
    else:
        del out[position]
    return out


__all__ = [
    "INDEX_KEY",
    "SLOT",
    "CompiledTemplate",
    "RowError",
    "compile_template",
    "fill_chat",
    "fill_text",
]
