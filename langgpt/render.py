"""Evaluation: variables, conditions, loops, role inheritance and few-shot selection.

This is the interpreter every text-producing target shares. It evaluates the AST against variable
values and produces plain rendered structures (``RenderedRole``, ``RenderedTemplate``); the targets
only lay those out. Nothing here evaluates host code: conditions are compared as data.
"""

from __future__ import annotations

import contextlib
from typing import Any

from langgpt import ast
from langgpt.data import DataError, Row, read_rows, select
from langgpt.errors import Diagnostic, DiagnosticError
from langgpt.loader import Module, Program, display_path
from langgpt.records import Record
from langgpt.scope import ANSWER, lookup, lookup_role
from langgpt.sections import humanize, section_key, title_for
from langgpt.types import ValueTypeError, VarValue, check_value, coerce_cli, literal_value, to_text

ANSWER_MARKER = "[ANSWER]"
MAX_OUTPUT_CHARS = 16 * 1024 * 1024
MAX_ITERATIONS = 200_000
MAX_DEPTH = 64


# ----------------------------------------------------------------------------- rendered structures


class RItem(Record):
    depth: int
    numbered: bool
    text: str


class RField(Record):
    key: str
    text: str


class RPara(Record):
    text: str


class RSub(Record):
    title: str
    body: list[REntry] | str


REntry = RItem | RField | RPara | RSub


class RSection(Record):
    key: str
    canonical: str | None
    title: str
    body: list[REntry] | str
    layout: tuple[tuple[str, Any], ...] = ()  # @markdown(...) presentation, used by the markdown target


class RenderedRole(Record):
    name: str
    title: str
    sections: list[RSection]
    layout: tuple[tuple[str, Any], ...] = ()


class Message(Record):
    role: str
    content: str


class RenderedTemplate(Record):
    name: str
    text: str | None  # a text template
    messages: tuple[Message, ...] = ()  # a chat template


# ----------------------------------------------------------------------------- context


class Context:
    """Variable values for one compilation, plus every problem found while rendering."""

    def __init__(
        self,
        program: Program,
        values: dict[str, VarValue] | None = None,
        *,
        from_cli: frozenset[str] = frozenset(),
        answer: str | None = None,
        shot_limits: dict[str, int] | None = None,
    ) -> None:
        self.program = program
        self.values = dict(values or {})
        self.from_cli = from_cli
        self.answer = answer
        self.shot_limits = dict(shot_limits or {})  # example set -> most shots to render (token budgets)
        self.output_chars = 0  # everything rendered so far: a bound on expansion
        self.iterations = 0  # loop iterations so far
        self.problems: list[Diagnostic] = []
        self._typed: dict[tuple[int, str], VarValue] = {}
        self._roles: dict[tuple[int, str], RenderedRole] = {}
        self._depth = 0

    def fail_if_problems(self) -> None:
        if self.problems:
            raise DiagnosticError(self.problems)

    def problem(self, diag: Diagnostic) -> None:
        if diag not in self.problems:
            self.problems.append(diag)

    def variable(self, module: Module, decl: ast.VarDecl, span: ast.Span) -> VarValue:
        key = (id(module), decl.name)
        if key in self._typed:
            return self._typed[key]
        value = self._typed_value(decl, span)
        self._typed[key] = value
        return value

    def _typed_value(self, decl: ast.VarDecl, span: ast.Span) -> VarValue:
        if decl.name in self.values:
            raw = self.values[decl.name]
            try:
                if decl.name in self.from_cli and isinstance(raw, str):
                    return coerce_cli(raw, decl.type)
                return check_value(raw, decl.type)
            except ValueTypeError as exc:
                self.problem(
                    Diagnostic(
                        "E111",
                        f"value given for `{decl.name}` does not match its type {decl.type.describe()}",
                        decl.span,
                        str(exc),
                    )
                )
                return ""
        if decl.default is not None:
            try:
                return check_value(literal_value(decl.default), decl.type)
            except ValueTypeError:
                return ""  # reported by the declarations check
        self.problem(
            Diagnostic(
                "E110",
                f"no value for required variable `{decl.name}`",
                span,
                f"a value for `{decl.name}` ({decl.type.describe()})",
                f"pass --var {decl.name}=... or give it a default: var {decl.name}: {decl.type.describe()} = ...",
            )
        )
        return ""


Env = dict[str, Any]


# ----------------------------------------------------------------------------- text


class Renderer:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- values
    def lookup_value(self, module: Module, name: str, env: Env, span: ast.Span, template: bool = False) -> VarValue:
        head, _, rest = name.partition(".")
        if head in env:
            return _attribute(env[head], rest, name, span, self.ctx)
        found = lookup(module, name)
        if found is None and rest:
            found = lookup(module, head)
            if found is not None and isinstance(found.decl, ast.VarDecl):
                return _attribute(self.ctx.variable(found.module, found.decl, span), rest, name, span, self.ctx)
        if found is None:
            self.ctx.problem(Diagnostic("E101", f"undefined name `{name}`", span, "a declared variable"))
            return ""
        decl = found.decl
        if isinstance(decl, ast.VarDecl):
            return self.ctx.variable(found.module, decl, span)
        if template and isinstance(decl, ast.Examples):
            return self.shots_text(found.module, decl)
        if template and isinstance(decl, ast.Role):
            from langgpt.targets.text import role_markdown

            return role_markdown(self.role(found.module, decl)).rstrip("\n")
        self.ctx.problem(Diagnostic("E101", f"`{name}` is a {decl.kind}, not a variable", span, "a variable"))
        return ""

    def text(self, module: Module, text: ast.Text, env: Env, template: bool = False) -> str:
        out = "".join(self.segments(module, text.segments, env, template))
        self.ctx.output_chars += len(out)
        if self.ctx.output_chars > MAX_OUTPUT_CHARS:  # loops over loops: bound the whole output
            self.ctx.problem(
                Diagnostic(
                    "E117", f"the output grows past {MAX_OUTPUT_CHARS} characters", text.span, "smaller loops or values"
                )
            )
            return ""
        if len(out) > MAX_OUTPUT_CHARS:
            self.ctx.problem(
                Diagnostic(
                    "E117",
                    f"text expands to {len(out)} characters, over the {MAX_OUTPUT_CHARS} limit",
                    text.span,
                    "smaller loops or values",
                )
            )
            return out[:0]
        return out

    def segments(self, module: Module, segments: tuple[ast.Segment, ...], env: Env, template: bool) -> list[str]:
        out: list[str] = []
        for seg in segments:
            if isinstance(seg, ast.TextSeg):
                out.append(seg.text)
            elif isinstance(seg, ast.RefSeg):
                out.append(f"<{seg.name}>")
            elif isinstance(seg, ast.InterpSeg):
                if template and seg.name == ANSWER and ANSWER not in env:
                    out.append("\0ANSWER\0")
                else:
                    out.append(to_text(self.lookup_value(module, seg.name, env, seg.span, template)))
            elif isinstance(seg, ast.IfSeg):
                for branch in seg.branches:
                    if branch.condition is None or self.truth(module, branch.condition, env):
                        out.extend(self.segments(module, branch.body, env, template))
                        break
            else:
                for value in self.iterate(module, seg.iterable, env, seg.span):
                    out.extend(self.segments(module, seg.body, {**env, seg.var: value}, template))
        return out

    def iterate(self, module: Module, name: str, env: Env, span: ast.Span) -> list[VarValue]:
        if self.ctx.output_chars > MAX_OUTPUT_CHARS:
            return []  # already over the output bound: stop expanding
        value = self.lookup_value(module, name, env, span)
        if isinstance(value, list):
            self.ctx.iterations += len(value)
            if self.ctx.iterations > MAX_ITERATIONS:  # nested loops multiply: bound the total
                self.ctx.problem(
                    Diagnostic(
                        "E117",
                        f"loops run more than {MAX_ITERATIONS} times in all",
                        span,
                        "smaller lists or fewer nested loops",
                    )
                )
                self.ctx.output_chars = MAX_OUTPUT_CHARS + 1
                return []
            return value
        if value == "":
            return []
        self.ctx.problem(
            Diagnostic(
                "E117", f"`{name}` is not a list, so it cannot be looped over", span, "a list variable (list[T])"
            )
        )
        return []

    # -- conditions
    def truth(self, module: Module, cond: ast.Condition, env: Env) -> bool:
        return bool(self.value(module, cond, env))

    def value(self, module: Module, cond: ast.Condition, env: Env) -> Any:
        if isinstance(cond, ast.NameRef):
            return self.lookup_value(module, cond.name, env, cond.span)
        if isinstance(cond, (ast.StrValue, ast.NumValue, ast.BoolValue)):
            return cond.value
        if isinstance(cond, ast.Not):
            return not self.truth(module, cond.operand, env)
        if isinstance(cond, ast.BoolOp):
            results = (self.truth(module, op, env) for op in cond.operands)
            return all(results) if cond.kind == "and" else any(results)
        if isinstance(cond, ast.Compare):
            return self.compare(module, cond, env)
        raise AssertionError(cond)

    def compare(self, module: Module, cond: ast.Compare, env: Env) -> bool:
        left, right = self.value(module, cond.left, env), self.value(module, cond.right, env)
        if cond.op == "==":
            return bool(left == right)
        if cond.op == "!=":
            return bool(left != right)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        if not numeric and not (isinstance(left, str) and isinstance(right, str)):
            self.ctx.problem(
                Diagnostic(
                    "E117",
                    f"`{cond.op}` compares {type(left).__name__} with {type(right).__name__}",
                    cond.span,
                    "two numbers or two strings",
                )
            )
            return False
        return bool({"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[cond.op])

    # -- roles
    def role(self, module: Module, role: ast.Role) -> RenderedRole:
        key = (id(module), role.name)
        if key in self.ctx._roles:
            return self.ctx._roles[key]
        self.ctx._depth += 1
        try:
            if self.ctx._depth > MAX_DEPTH:
                self.ctx.problem(
                    Diagnostic(
                        "E114", f"role `{role.name}` inherits too deeply", role.span, f"at most {MAX_DEPTH} levels"
                    )
                )
                return RenderedRole(role.name, role.title or role.name, [])
            rendered = self._role(module, role)
        finally:
            self.ctx._depth -= 1
        self.ctx._roles[key] = rendered
        return rendered

    def _role(self, module: Module, role: ast.Role) -> RenderedRole:
        sections: list[RSection] = []
        title = role.title or role.name
        if role.extends is not None:
            parent = lookup_role(module, role.extends.name)
            if parent is not None:
                base = self.role(parent.module, parent.decl)  # type: ignore[arg-type]
                sections = [
                    RSection(
                        s.key, s.canonical, s.title, list(s.body) if isinstance(s.body, list) else s.body, s.layout
                    )
                    for s in base.sections
                ]
        own: set[str] = set()
        for section, env in self.expand_members(module, role.members, {}):
            rendered = self.section(module, section, env)
            _merge(sections, rendered, section.append, own)
            own.add(rendered.key)
        return RenderedRole(role.name, title, sections, layout_of(role.annotations))

    def expand_members(
        self, module: Module, members: tuple[ast.RoleMember, ...], env: Env
    ) -> list[tuple[ast.Section, Env]]:
        out: list[tuple[ast.Section, Env]] = []
        for member in members:
            if isinstance(member, ast.Section):
                out.append((member, env))
            elif isinstance(member, ast.RoleIf):
                for branch in member.branches:
                    if branch.condition is None or self.truth(module, branch.condition, env):
                        out.extend(self.expand_members(module, branch.body, env))
                        break
            else:
                for value in self.iterate(module, member.iterable.name, env, member.iterable.span):
                    out.extend(self.expand_members(module, member.body, {**env, member.var: value}))
        return out

    def section(self, module: Module, section: ast.Section, env: Env) -> RSection:
        key = section_key(section.name, section.canonical)
        title = title_for(section.name, section.canonical, section.title)
        body: list[REntry] | str
        if isinstance(section.body, ast.Text):
            body = self.text(module, section.body, env)
        else:
            numbered = section.canonical == "workflow"
            body = self.entries(module, section.body.entries, env, numbered)
        return RSection(key, section.canonical, title, body, layout_of(section.annotations))

    def entries(
        self, module: Module, entries: tuple[ast.Entry, ...], env: Env, numbered: bool, depth: int = 0
    ) -> list[REntry]:
        out: list[REntry] = []
        for entry in entries:
            if isinstance(entry, ast.Item):
                is_numbered = (numbered and entry.depth == 0) or entry.marker[:1].isdigit()
                out.append(RItem(entry.depth + depth, is_numbered, self.text(module, entry.text, env)))
            elif isinstance(entry, ast.FieldEntry):
                out.append(RField(_field_title(entry.key), self.text(module, entry.value, env)))
            elif isinstance(entry, ast.Paragraph):
                out.append(RPara(self.text(module, entry.text, env)))
            elif isinstance(entry, ast.Subsection):
                title = entry.title or _field_title(entry.name)
                if isinstance(entry.body, ast.Text):
                    out.append(RSub(title, self.text(module, entry.body, env)))
                else:
                    out.append(RSub(title, self.entries(module, entry.body.entries, env, numbered)))
            elif isinstance(entry, ast.EntryIf):
                for branch in entry.branches:
                    if branch.condition is None or self.truth(module, branch.condition, env):
                        out.extend(self.entries(module, branch.body, env, numbered, depth))
                        break
            else:
                for value in self.iterate(module, entry.iterable.name, env, entry.iterable.span):
                    out.extend(self.entries(module, entry.body, {**env, entry.var: value}, numbered, depth))
        return out

    # -- few-shot examples
    def shot_rows(self, module: Module, examples: ast.Examples) -> list[Row]:
        if examples.source is None:
            return [{f.name: _record_value(f.value) for f in record.fields} for record in examples.records]
        from langgpt.checks.examples import data_path

        source = examples.source
        path, problem = data_path(self.ctx.program, module, source)
        if path is None:
            self.ctx.problem(Diagnostic("E115", problem or "cannot read data", source.span))
            return []
        try:
            rows = read_rows(path, display_path(path))
        except DataError as exc:
            self.ctx.problem(Diagnostic("E115", str(exc), source.span))
            return []
        return select(rows, source.k, source.seed, source.balanced_by)

    def shot_env(self, module: Module, row: Row) -> Env:
        """A row's fields as loop-local names; integer labels become label names when a label
        variable of the same name exists."""
        env: Env = {}
        for name, value in row.items():
            found = lookup(module, name)
            if found is not None and isinstance(found.decl, ast.VarDecl) and found.decl.type.name == "label":
                with contextlib.suppress(ValueTypeError):
                    value = check_value(value, found.decl.type)
            env[name] = value
        return env

    def shots(self, module: Module, examples: ast.Examples) -> list[dict[str, str]]:
        """Each shot rendered through every format setting (format, input, output, ...)."""
        settings = {s.name: s.value for s in examples.settings}
        rendered = []
        rows = self.shot_rows(module, examples)
        limit = self.ctx.shot_limits.get(examples.name)
        for row in rows[:limit] if limit is not None else rows:
            env = self.shot_env(module, row)
            shot = {name: self.text(module, text, env) for name, text in settings.items() if name != "separator"}
            if "format" not in shot:
                shot["format"] = "\n".join(f"{k}: {to_text(v)}" for k, v in env.items())
            rendered.append(shot)
        return rendered

    def shots_text(self, module: Module, examples: ast.Examples) -> str:
        settings = {s.name: s.value for s in examples.settings}
        separator = self.text(module, settings["separator"], {}) if "separator" in settings else "\n\n"
        return separator.join(shot["format"] for shot in self.shots(module, examples))


def layout_of(annotations: tuple[ast.CallValue, ...]) -> tuple[tuple[str, Any], ...]:
    """The settings of ``@markdown(...)`` annotations, as (name, value) pairs."""
    pairs: list[tuple[str, Any]] = []
    for note in annotations:
        if note.func == "markdown":
            pairs.extend((arg.name or "", _record_value(arg.value)) for arg in note.args)
    return tuple(pairs)


def _record_value(value: ast.Value) -> VarValue:
    try:
        return literal_value(value)
    except ValueTypeError:
        return ""


def _attribute(value: Any, rest: str, name: str, span: ast.Span, ctx: Context) -> Any:
    for part in rest.split(".") if rest else ():
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            ctx.problem(Diagnostic("E101", f"`{name}` has no field `{part}`", span, "a field of the record"))
            return ""
    return value


def _field_title(key: str) -> str:
    return humanize(key) if key.isascii() and key == key.lower() else key


def _as_entries(body: list[REntry] | str) -> list[REntry]:
    if isinstance(body, str):
        return [RPara(body)] if body else []
    return list(body)


def _merge(sections: list[RSection], new: RSection, append: bool, own: set[str]) -> None:
    """Inheritance: replace the section with the same key, append to it with ``+=``, or add it
    (before a trailing Initialization, which by LangGPT convention comes last). A key this role
    already produced itself (a section inside a role-level loop) is appended to, never replaced."""
    for i, old in enumerate(sections):
        if old.key != new.key:
            continue
        if append or new.key in own:
            sections[i] = RSection(old.key, old.canonical, old.title, _append_body(old.body, new.body), old.layout)
        else:
            sections[i] = new
        return
    if sections and sections[-1].canonical == "initialization" and new.canonical != "initialization":
        sections.insert(len(sections) - 1, new)
    else:
        sections.append(new)


def _append_body(old: list[REntry] | str, new: list[REntry] | str) -> list[REntry] | str:
    """``+=``: prose after prose joins with a blank line; otherwise both become entry lists (prose as
    a paragraph) so nothing is lost; profile-style fields replace a field with the same key."""
    if isinstance(old, str) and isinstance(new, str):
        return (old + "\n\n" + new).strip("\n") if old and new else old or new
    merged = _as_entries(old)
    for entry in _as_entries(new):
        if isinstance(entry, RField):
            index = next(
                (i for i, e in enumerate(merged) if isinstance(e, RField) and e.key.lower() == entry.key.lower()), None
            )
            if index is not None:
                merged[index] = entry
                continue
        merged.append(entry)
    return merged


# ----------------------------------------------------------------------------- templates

_SLOT = "\0ANSWER\0"


class TemplateRenderer(Renderer):
    def template(self, module: Module, template: ast.Template) -> RenderedTemplate:
        text_node = template.text or next(
            (m.value for m in template.members if m.key == "text" and isinstance(m.value, ast.Text)), None
        )
        if text_node is not None:
            return RenderedTemplate(template.name, self.fill_answer(self.text(module, text_node, {}, template=True)))
        messages: list[Message] = []
        for member in template.members:
            value = member.value
            if member.key in ("system", "user", "assistant"):
                if isinstance(value, ast.RoleRef):
                    content = self.role_text(module, value)
                elif isinstance(value, ast.Text):
                    content = self.text(module, value, {}, template=True)
                else:
                    continue
                messages.append(Message(member.key, content))
            elif member.key == "shots" and isinstance(value, ast.NameRef):
                found = lookup(module, value.name)
                if found is not None and isinstance(found.decl, ast.Examples):
                    messages.extend(self.shot_messages(found.module, found.decl))
        return RenderedTemplate(template.name, None, tuple(self.fill_messages(messages)))

    def role_text(self, module: Module, ref: ast.RoleRef) -> str:
        from langgpt.targets.text import role_markdown

        found = lookup_role(module, ref.name)
        if found is None:
            self.ctx.problem(Diagnostic("E108", f"unknown role `{ref.name}`", ref.span, "a role"))
            return ""
        return role_markdown(self.role(found.module, found.decl)).rstrip("\n")  # type: ignore[arg-type]

    def shot_messages(self, module: Module, examples: ast.Examples) -> list[Message]:
        settings = {s.name for s in examples.settings}
        if {"input", "output"} <= settings:
            out = []
            for shot in self.shots(module, examples):
                out += [Message("user", shot["input"]), Message("assistant", shot["output"])]
            return out
        return [Message("user", self.shots_text(module, examples))]

    def fill_answer(self, text: str) -> str:
        """The answer slot: the given answer, else nothing when it ends the prompt (the model
        continues from there), else the visible marker [ANSWER]."""
        if self.ctx.answer is not None:
            return text.replace(_SLOT, self.ctx.answer)
        if text.endswith(_SLOT):
            text = text[: -len(_SLOT)].rstrip(" \t")
        return text.replace(_SLOT, ANSWER_MARKER)

    def fill_messages(self, messages: list[Message]) -> list[Message]:
        filled = [
            Message(
                m.role,
                self.fill_answer(m.content)
                if i == len(messages) - 1
                else m.content.replace(_SLOT, self.ctx.answer if self.ctx.answer is not None else ANSWER_MARKER),
            )
            for i, m in enumerate(messages)
        ]
        if filled and filled[-1].role == "assistant" and not filled[-1].content:
            filled.pop()  # an empty trailing assistant turn is the generation slot itself
        return filled
