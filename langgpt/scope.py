"""Module namespaces: what a name means in a file.

Variables, roles, templates, example sets and named config blocks share one namespace per file;
imported files are reached through their alias (``tone.Analyst``).
"""

from __future__ import annotations

from collections.abc import Iterator

from langgpt import ast
from langgpt.loader import Module
from langgpt.records import Record

Declared = ast.VarDecl | ast.Role | ast.Template | ast.Examples | ast.ConfigBlock

#: Names with a meaning of their own inside templates.
ANSWER = "answer"


class Resolved(Record):
    module: Module
    decl: Declared


def declarations(module: Module) -> dict[str, Declared]:
    """First declaration of each name (duplicates are reported by the declarations check). Built once
    per module: lookups happen for every interpolation, so rebuilding made checks quadratic."""
    if module.names is None:
        module.names = _declarations(module)  # type: ignore[assignment]
    return module.names  # type: ignore[return-value]


def _declarations(module: Module) -> dict[str, Declared]:
    out: dict[str, Declared] = {}
    for decl in module.document.decls:
        if isinstance(decl, ast.Import):
            continue
        name = decl.name
        if name is not None and name not in out:
            out[name] = decl
    return out


def lookup(module: Module, dotted: str) -> Resolved | None:
    """Resolve ``name`` in ``module`` or ``alias.name`` through an import."""
    head, _, rest = dotted.partition(".")
    if rest and head in module.imports:
        return lookup(module.imports[head], rest)
    decl = declarations(module).get(dotted)
    return Resolved(module, decl) if decl is not None else None


def lookup_role(module: Module, dotted: str | None) -> Resolved | None:
    """A role by name; ``None`` means the file's first role."""
    if dotted is None:
        roles = module.document.roles()
        return Resolved(module, roles[0]) if roles else None
    found = lookup(module, dotted)
    return found if found is not None and isinstance(found.decl, ast.Role) else None


def names_in_module(module: Module) -> list[str]:
    names = list(declarations(module))
    for alias, sub in module.imports.items():
        names.extend(f"{alias}.{n}" for n in declarations(sub))
    return names


def walk_segments(segments: tuple[ast.Segment, ...]) -> Iterator[ast.Segment]:
    for seg in segments:
        yield seg
        if isinstance(seg, ast.IfSeg):
            for branch in seg.branches:
                yield from walk_segments(branch.body)
        elif isinstance(seg, ast.ForSeg):
            yield from walk_segments(seg.body)


def condition_names(cond: ast.Condition | None) -> Iterator[ast.NameRef]:
    if cond is None:
        return
    if isinstance(cond, ast.NameRef):
        yield cond
    elif isinstance(cond, ast.Not):
        yield from condition_names(cond.operand)
    elif isinstance(cond, ast.BoolOp):
        for operand in cond.operands:
            yield from condition_names(operand)
    elif isinstance(cond, ast.Compare):
        yield from condition_names(cond.left)
        yield from condition_names(cond.right)
