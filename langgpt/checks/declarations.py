"""Declarations: duplicate names, types and defaults, duplicate sections and fields, misspelled
section names, template members."""

from __future__ import annotations

from langgpt import ast
from langgpt.checks.walk import entries, role_sections
from langgpt.errors import Diagnostic
from langgpt.loader import Program
from langgpt.sections import TITLES, misspelling_of, section_key
from langgpt.types import ValueTypeError, check_value, literal_value, type_problem

TEMPLATE_KEYS = {"system", "user", "assistant", "shots", "text", "answer"}


def check(program: Program) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for module in program.modules:
        doc = module.document
        out.extend(_duplicate_names(doc))
        for decl in doc.decls:
            if isinstance(decl, ast.VarDecl):
                out.extend(_variable(decl))
            elif isinstance(decl, ast.Role):
                out.extend(_role(decl))
                out.extend(_annotations(decl))
            elif isinstance(decl, ast.Template):
                out.extend(_template(decl))
    return out


def _duplicate_names(doc: ast.Document) -> list[Diagnostic]:
    seen: dict[str, ast.Span] = {}
    out = []
    for decl in doc.decls:
        name = decl.alias if isinstance(decl, ast.Import) else decl.name
        if isinstance(decl, ast.Import) and name is None:
            continue
        if name is None:
            continue
        if name in seen:
            first = seen[name]
            out.append(
                Diagnostic(
                    "E103",
                    f"`{name}` is declared twice",
                    decl.span,
                    "a name not used by another declaration in this file",
                    f"the first declaration is at line {first.line}; rename one of them",
                )
            )
        else:
            seen[name] = decl.span
    return out


def _variable(var: ast.VarDecl) -> list[Diagnostic]:
    problem = type_problem(var.type)
    if problem:
        return [Diagnostic("E112", problem, var.type.span, "text, int, float, bool, label {a, b} or list[T]")]
    out = []
    if var.type.name == "label" and len(set(var.type.labels)) != len(var.type.labels):
        out.append(
            Diagnostic("E103", f"label set of `{var.name}` names a label twice", var.type.span, "distinct label names")
        )
    if var.truncate is not None and var.type.name != "text":
        out.append(
            Diagnostic(
                "E401",
                f"`truncate` applies to text variables; `{var.name}` is {var.type.describe()}",
                var.span,
                "a `text` variable",
            )
        )
    if var.default is not None:
        try:
            check_value(literal_value(var.default), var.type)
        except ValueTypeError as exc:
            out.append(
                Diagnostic(
                    "E102",
                    f"default of `{var.name}` does not match its type {var.type.describe()}",
                    var.default.span,
                    str(exc),
                    "change the default or the declared type",
                )
            )
    return out


def _section_key(section: ast.Section) -> str:
    return section_key(section.name, section.canonical)


def _role(role: ast.Role) -> list[Diagnostic]:
    out = []
    seen: dict[str, ast.Section] = {}
    for member in role.members:
        if not isinstance(member, ast.Section):
            continue
        key = _section_key(member)
        if key in seen and not member.append:
            first = seen[key]
            out.append(
                Diagnostic(
                    "E104",
                    f"section `{member.name}` appears twice in role `{role.name}`",
                    member.span,
                    "each section once per role",
                    f"the first `{first.name}` is at line {first.span.line}; merge them, or write `{member.name} += {{ ... }}` to append",
                )
            )
        seen.setdefault(key, member)
        intended = misspelling_of(member.name)
        if intended:
            out.append(
                Diagnostic(
                    "W202",
                    f"section `{member.name}` looks like a misspelling of `{TITLES[intended]}`",
                    member.span,
                    f"`{intended}`",
                    f'rename it to `{intended}`, or give it a title: {intended} "{member.name}" {{ ... }}',
                )
            )
        out.extend(_duplicate_fields(member))
    return out


#: @markdown(...) settings and the kind of value each takes
MARKDOWN_SETTINGS: dict[str, type] = {"heading": str, "before": str, "space": int, "gap": int}


def _annotations(role: ast.Role) -> list[Diagnostic]:
    """Annotations on the role, its sections and sub-sections: known names, known settings, right types."""
    notes = list(role.annotations)
    for section in role_sections(role.members):
        notes.extend(section.annotations)
        for entry in entries(section.body):
            if isinstance(entry, ast.Subsection):
                notes.extend(entry.annotations)
    out = []
    for note in notes:
        if note.func != "markdown":
            out.append(
                Diagnostic("W205", f"unknown annotation `@{note.func}`", note.span, "`@markdown(...)`", "it is ignored")
            )
            continue
        for arg in note.args:
            wanted = MARKDOWN_SETTINGS.get(arg.name or "")
            if wanted is None:
                shown = ", ".join(MARKDOWN_SETTINGS)
                out.append(
                    Diagnostic(
                        "E120",
                        f"unknown @markdown setting `{arg.name or '(positional)'}`",
                        arg.span,
                        f"one of {shown}, written name=value",
                    )
                )
                continue
            value = arg.value
            ok = (
                isinstance(value, ast.StrValue)
                if wanted is str
                else (isinstance(value, ast.NumValue) and isinstance(value.value, int) and value.value >= 0)
            )
            if not ok:
                kind = "a string" if wanted is str else "a whole number, 0 or more"
                out.append(Diagnostic("E120", f"@markdown setting `{arg.name}` takes {kind}", value.span, kind))
    return out


def _duplicate_fields(section: ast.Section) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen: dict[str, ast.FieldEntry] = {}
    if isinstance(section.body, ast.Text):
        return out
    for entry in section.body.entries:
        if isinstance(entry, ast.FieldEntry):
            key = entry.key.lower()
            if key in seen:
                out.append(
                    Diagnostic(
                        "E104",
                        f"field `{entry.key}` appears twice in `{section.name}`",
                        entry.span,
                        "each field once",
                        f"the first is at line {seen[key].span.line}",
                    )
                )
            seen.setdefault(key, entry)
    return out


def _template(template: ast.Template) -> list[Diagnostic]:
    out = []
    keys = [m.key for m in template.members]
    for member in template.members:
        if member.key not in TEMPLATE_KEYS:
            out.append(
                Diagnostic(
                    "E113", f"unknown template member `{member.key}`", member.span, ", ".join(sorted(TEMPLATE_KEYS))
                )
            )
            continue
        wants = {"shots": (ast.NameRef,), "answer": (ast.NameRef,), "text": (ast.Text,)}.get(
            member.key, (ast.Text, ast.RoleRef)
        )
        if not isinstance(member.value, wants):
            shape = {"shots": "an example set name", "answer": "a variable name", "text": "a string"}.get(
                member.key, "a string or `role NAME`"
            )
            out.append(Diagnostic("E113", f"`{member.key}:` takes {shape}", member.value.span, shape))
    if "text" in keys and any(k in keys for k in ("system", "user", "assistant")):
        out.append(
            Diagnostic(
                "E113",
                f"template `{template.name}` mixes `text:` with chat messages",
                template.span,
                "either `text:` or system/user/assistant messages",
                "split it into two templates",
            )
        )
    if keys.count("answer") > 1 or keys.count("text") > 1:
        out.append(
            Diagnostic(
                "E113", f"template `{template.name}` sets `answer:` or `text:` twice", template.span, "each once"
            )
        )
    if template.text is None and not any(k in keys for k in ("system", "user", "assistant", "text")):
        out.append(
            Diagnostic(
                "E113",
                f"template `{template.name}` has no text and no messages",
                template.span,
                "a string, `text:` or system/user/assistant messages",
            )
        )
    return out
