"""LangGPT-style references: ``<Rules>``, ``<Role>``, ``<Language>`` must name something the role has:
a section (by name, title or canonical title), a subsection, a profile field, or the role itself.
Inherited sections count. Matching ignores case, spaces, underscores and hyphens."""

from __future__ import annotations

import difflib

from langgpt import ast
from langgpt.checks.walk import entries, role_sections, role_texts
from langgpt.errors import Diagnostic
from langgpt.loader import Module, Program
from langgpt.scope import lookup_role, walk_segments
from langgpt.sections import TITLES, title_for


def check(program: Program) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for module in program.modules:
        all_names: dict[str, str] = {"role": "Role"}
        for role in module.document.roles():
            names = referable(module, role)
            all_names.update(names)
            for text in role_texts(role):
                out.extend(_check_text(text, names))
        for template in module.document.templates():
            texts = [m.value for m in template.members if isinstance(m.value, ast.Text)]
            texts += [template.text] if template.text else []
            for text in texts:
                out.extend(_check_text(text, all_names))
    return out


def norm(name: str) -> str:
    return name.lower().replace(" ", "").replace("_", "").replace("-", "")


def referable(module: Module, role: ast.Role, depth: int = 0) -> dict[str, str]:
    """normalised name -> display name of everything ``role`` can reference."""
    names: dict[str, str] = {"role": "Role", norm(role.name): role.name}
    if role.title:
        names[norm(role.title)] = role.title
    if role.extends is not None and depth < 32:
        parent = lookup_role(module, role.extends.name)
        if parent is not None:
            names.update(referable(parent.module, parent.decl, depth + 1))  # type: ignore[arg-type]
    for section in role_sections(role.members):
        for label in (
            section.name,
            section.title,
            TITLES.get(section.canonical or ""),
            title_for(section.name, section.canonical, section.title),
        ):
            if label:
                names[norm(label)] = label
        for entry in entries(section.body):
            if isinstance(entry, ast.FieldEntry):
                names[norm(entry.key)] = entry.key
            elif isinstance(entry, ast.Subsection):
                names[norm(entry.name)] = entry.name
                if entry.title:
                    names[norm(entry.title)] = entry.title
    return names


def _check_text(text: ast.Text, names: dict[str, str]) -> list[Diagnostic]:
    out = []
    for seg in walk_segments(text.segments):
        if isinstance(seg, ast.RefSeg) and norm(seg.name) not in names:
            shown = sorted(set(names.values()) - {""})
            close = difflib.get_close_matches(seg.name, shown, n=1, cutoff=0.6)
            hint = f"did you mean `<{close[0]}>`?" if close else "write `\\<` for a literal `<`, or add the section"
            out.append(
                Diagnostic(
                    "E105",
                    f"unknown reference `<{seg.name}>`",
                    seg.span,
                    "a section or profile field of this role" + (f": {', '.join(shown[:8])}" if shown else ""),
                    hint,
                )
            )
    return out
