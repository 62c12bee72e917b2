"""Name resolution: undefined and unused variables, unknown roles / templates / example sets,
inheritance cycles.

Scopes: a role's text sees the file's variables and its loop variables; a template also sees example
sets, roles and the answer slot; an example format sees its records' fields and the file's variables.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from langgpt import ast
from langgpt.checks.walk import role_sections, texts_of_entry
from langgpt.errors import Diagnostic
from langgpt.loader import Module, Program
from langgpt.scope import ANSWER, condition_names, declarations, lookup, lookup_role, names_in_module
from langgpt.sections import section_key


def check(program: Program) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    used: set[tuple[int, str]] = set()
    for module in program.modules:
        resolver = _Resolver(module, used, out)
        resolver.run()
    for module in program.modules:
        out.extend(_unused(module, used))
        out.extend(_inheritance_cycles(module))
        out.extend(_appends_without_base(module))
    return out


def _appends_without_base(module: Module) -> list[Diagnostic]:
    """W203: `+=` on a section that neither the base role nor an earlier section of the role has (it
    then simply defines the section)."""
    out = []
    for role in module.document.roles():
        known = _inherited_keys(module, role, 0)
        for member in role.members:
            if not isinstance(member, ast.Section):
                continue
            key = section_key(member.name, member.canonical)
            if member.append and key not in known:
                base = f"base role `{role.extends.name}`" if role.extends else "role (it extends nothing)"
                out.append(
                    Diagnostic(
                        "W203",
                        f"`{member.name} +=` appends to a section the {base} does not have",
                        member.span,
                        "a section inherited from the base role or defined earlier in this role",
                        f"drop the `+=` to define `{member.name}` here",
                    )
                )
            known.add(key)
    return out


def _inherited_keys(module: Module, role: ast.Role, depth: int) -> set[str]:
    if role.extends is None or depth > 32:
        return set()
    parent = lookup_role(module, role.extends.name)
    if parent is None or not isinstance(parent.decl, ast.Role):
        return set()
    keys = {section_key(s.name, s.canonical) for s in role_sections(parent.decl.members)}
    return keys | _inherited_keys(parent.module, parent.decl, depth + 1)


class _Resolver:
    def __init__(self, module: Module, used: set[tuple[int, str]], out: list[Diagnostic]) -> None:
        self.module = module
        self.used = used
        self.out = out
        self.decls = declarations(module)

    def run(self) -> None:
        for decl in self.module.document.decls:
            if isinstance(decl, ast.Role):
                self.role(decl)
            elif isinstance(decl, ast.Template):
                self.template(decl)
            elif isinstance(decl, ast.Examples):
                self.examples(decl)
            elif isinstance(decl, ast.ConfigBlock):
                self.config(decl)

    # -- variables
    def use_var(self, name: str, span: ast.Span, local: frozenset[str], extra: Iterable[str] = ()) -> None:
        head = name.split(".", 1)[0]
        if head in local:
            return
        found = lookup(self.module, name)
        if found is None and "." in name:
            found = lookup(self.module, head)
        if found is not None and isinstance(found.decl, ast.VarDecl):
            self.used.add((id(found.module), found.decl.name))
            return
        if found is not None and name in extra:
            self.used.add((id(found.module), found.decl.name or ""))  # an example set or role, used
            return
        candidates = [*local, *extra, *(n for n, d in self.decls.items() if isinstance(d, ast.VarDecl))]
        self.out.append(_undefined(name, span, candidates, "a variable"))

    def text(self, text: ast.Text, local: frozenset[str], extra: Iterable[str] = ()) -> None:
        extra = tuple(extra)
        self.segments(text.segments, local, extra)

    def segments(self, segments: tuple[ast.Segment, ...], local: frozenset[str], extra: tuple[str, ...]) -> None:
        for seg in segments:
            if isinstance(seg, ast.InterpSeg):
                self.use_var(seg.name, seg.span, local, extra)
            elif isinstance(seg, ast.IfSeg):
                for branch in seg.branches:
                    self.condition(branch.condition, local, extra)
                    self.segments(branch.body, local, extra)
            elif isinstance(seg, ast.ForSeg):
                self.use_var(seg.iterable, seg.span, local, extra)
                self.segments(seg.body, local | {seg.var}, extra)

    def condition(self, cond: ast.Condition | None, local: frozenset[str], extra: tuple[str, ...] = ()) -> None:
        for ref in condition_names(cond):
            self.use_var(ref.name, ref.span, local, extra)

    # -- roles
    def role(self, role: ast.Role) -> None:
        if role.extends is not None and lookup_role(self.module, role.extends.name) is None:
            self.out.append(
                _undefined(role.extends.name, role.extends.span, _roles(self.module), "a role", code="E108")
            )
        self.members(role.members, frozenset())

    def members(self, members: tuple[ast.RoleMember, ...], local: frozenset[str]) -> None:
        for member in members:
            if isinstance(member, ast.Section):
                self.body(member.body, local)
            elif isinstance(member, ast.RoleIf):
                for branch in member.branches:
                    self.condition(branch.condition, local)
                    self.members(branch.body, local)
            else:
                self.use_var(member.iterable.name, member.iterable.span, local)
                self.members(member.body, local | {member.var})

    def body(self, body: ast.Block | ast.Text, local: frozenset[str]) -> None:
        if isinstance(body, ast.Text):
            self.text(body, local)
            return
        self.entries(body.entries, local)

    def entries(self, items: tuple[ast.Entry, ...], local: frozenset[str]) -> None:
        for entry in items:
            if isinstance(entry, ast.EntryIf):
                for branch in entry.branches:
                    self.condition(branch.condition, local)
                    self.entries(branch.body, local)
            elif isinstance(entry, ast.EntryFor):
                self.use_var(entry.iterable.name, entry.iterable.span, local)
                self.entries(entry.body, local | {entry.var})
            elif isinstance(entry, ast.Subsection):
                self.body(entry.body, local)
            else:
                for text in texts_of_entry(entry):
                    self.text(text, local)

    # -- templates
    def template(self, template: ast.Template) -> None:
        extra = (ANSWER, *self.template_names())
        if template.text is not None:
            self.text(template.text, frozenset({ANSWER}), extra)
        for member in template.members:
            value = member.value
            if isinstance(value, ast.Text):
                self.text(value, frozenset({ANSWER}), extra)
            elif isinstance(value, ast.RoleRef):
                if lookup_role(self.module, value.name) is None:
                    self.out.append(_undefined(value.name, value.span, _roles(self.module), "a role", code="E108"))
            elif member.key == "shots":
                found = lookup(self.module, value.name)
                if found is not None:
                    self.used.add((id(found.module), found.decl.name or ""))
                if found is None or not isinstance(found.decl, ast.Examples):
                    sets = [
                        n
                        for n in names_in_module(self.module)
                        if isinstance((r := lookup(self.module, n)) and r.decl, ast.Examples)
                    ]
                    self.out.append(_undefined(value.name, value.span, sets, "an example set", code="E108"))
            elif member.key == "answer":
                self.use_var(value.name, value.span, frozenset())

    def template_names(self) -> list[str]:
        out = []
        for name in names_in_module(self.module):
            found = lookup(self.module, name)
            if found is not None and isinstance(found.decl, (ast.Examples, ast.Role)):
                out.append(name)
        return out

    # -- examples and config blocks
    def examples(self, examples: ast.Examples) -> None:
        fields = frozenset(f.name for r in examples.records for f in r.fields)
        for setting in examples.settings:
            # Fields come from records or the data file; names that are neither are checked by the
            # examples pass (E109), so here only file variables are marked used.
            for seg in _interps(setting.value.segments):
                head = seg.name.split(".", 1)[0]
                found = lookup(self.module, head)
                if head not in fields and found is not None and isinstance(found.decl, ast.VarDecl):
                    self.used.add((id(found.module), found.decl.name))
        if examples.source and examples.source.balanced_by:
            self.mark_if_var(examples.source.balanced_by)

    def config(self, block: ast.ConfigBlock) -> None:
        if block.target is not None:
            found = lookup(self.module, block.target)
            if found is None or not isinstance(found.decl, ast.VarDecl):
                variables = [n for n, d in self.decls.items() if isinstance(d, ast.VarDecl)]
                self.out.append(_undefined(block.target, block.span, variables, "a label variable"))
            else:
                self.mark_if_var(block.target)

    def mark_if_var(self, name: str) -> None:
        found = lookup(self.module, name)
        if found is not None and isinstance(found.decl, ast.VarDecl):
            self.used.add((id(found.module), found.decl.name))


def _interps(segments: tuple[ast.Segment, ...]) -> list[ast.InterpSeg]:
    out: list[ast.InterpSeg] = []
    for seg in segments:
        if isinstance(seg, ast.InterpSeg):
            out.append(seg)
        elif isinstance(seg, ast.IfSeg):
            for branch in seg.branches:
                out.extend(_interps(branch.body))
        elif isinstance(seg, ast.ForSeg):
            out.extend(_interps(seg.body))
    return out


def _roles(module: Module) -> list[str]:
    return [n for n in names_in_module(module) if isinstance((r := lookup(module, n)) and r.decl, ast.Role)]


def _undefined(
    name: str, span: ast.Span, candidates: Iterable[str], what: str, code: str = "E101", message: str | None = None
) -> Diagnostic:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else (f"declare it: var {name}: text" if code == "E101" else None)
    kind = "variable" if code == "E101" else what.split(" ", 1)[-1]
    return Diagnostic(code, message or f"undefined {kind} `{name}`", span, what, hint)


def _unused(module: Module, used: set[tuple[int, str]]) -> list[Diagnostic]:
    out = []
    for examples in module.document.example_sets():
        if (id(module), examples.name) not in used:
            out.append(
                Diagnostic(
                    "W204",
                    f"example set `{examples.name}` is never used",
                    examples.span,
                    None,
                    f"use it in a template with `shots: {examples.name}` or {{{examples.name}}}",
                )
            )
    for decl in module.document.variables():
        if (id(module), decl.name) not in used:
            out.append(
                Diagnostic(
                    "W201",
                    f"variable `{decl.name}` is never used",
                    decl.span,
                    None,
                    "remove it, or interpolate it with {" + decl.name + "}",
                )
            )
    return out


def _inheritance_cycles(module: Module) -> list[Diagnostic]:
    out = []
    for role in module.document.roles():
        seen: list[tuple[int, str | None]] = [(id(module), role.name)]
        current_module, current = module, role
        while current.extends is not None:
            found = lookup_role(current_module, current.extends.name)
            if found is None:
                break
            key = (id(found.module), found.decl.name)
            if key in seen:
                if key == seen[0]:
                    chain = " -> ".join([str(n) for _, n in seen] + [role.name])
                    out.append(
                        Diagnostic(
                            "E114",
                            f"role `{role.name}` inherits from itself: {chain}",
                            role.extends.span if role.extends else role.span,
                            "an inheritance chain that ends",
                            "remove one of the `extends` clauses",
                        )
                    )
                break
            seen.append(key)
            current_module, current = found.module, found.decl  # type: ignore[assignment]
    return out
