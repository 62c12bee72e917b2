"""The compiler's front door: load or parse, check, compile to a target.

program = langgpt.load("prompts/sentiment.lgpt")
problems = langgpt.check(program)
result = langgpt.compile(program, target="messages", variables={"sentence": "Great phone."})
print(result.output)
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from langgpt import ast
from langgpt.checks import run_checks
from langgpt.errors import Diagnostic, DiagnosticError, UsageError, sort_diagnostics
from langgpt.loader import Program, load_text
from langgpt.loader import load as _load
from langgpt.records import Record
from langgpt.render import Context, RenderedRole, RenderedTemplate, TemplateRenderer
from langgpt.scope import lookup
from langgpt.types import VarValue, value_problem

TEXT_TARGETS = ("text", "messages", "markdown", "json", "yaml", "ast")


class CompileResult(Record):
    output: str
    target: str
    entry: str | None
    warnings: tuple[Diagnostic, ...]


def load(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> Program:
    """Read and parse a .lgpt file and its imports (raises DiagnosticError on syntax/import errors)."""
    return _load(path, root)


def parse(text: str, path: str = "<string>", base_dir: str | os.PathLike[str] | None = None) -> Program:
    """Parse source text; imports resolve against ``base_dir`` (default: the current directory)."""
    return load_text(text, path, base_dir)


def check(program: Program | str | os.PathLike[str]) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) of the semantic checks, in source order."""
    program = _as_program(program)
    try:
        return run_checks(program)
    except RecursionError:
        raise DiagnosticError([_too_deep(program)]) from None


def _too_deep(program: Program) -> Diagnostic:
    return Diagnostic(
        "E121",
        "the input is nested too deeply to process",
        program.document.span,
        "shallower nesting",
        "simplify the nesting",
    )


def compile(
    program: Program | str | os.PathLike[str],
    target: str = "text",
    variables: dict[str, VarValue] | None = None,
    *,
    entry: str | None = None,
    answer: str | None = None,
    cli_values: frozenset[str] = frozenset(),
    guard_roles: bool = False,
) -> CompileResult:
    """Check, then compile the entry (a role or template of the main file; default: the first
    template, else the first role) to ``target``. Raises DiagnosticError when anything is wrong.
    ``guard_roles`` refuses values carrying chat role markers (see langgpt.guard)."""
    program = _as_program(program)
    if guard_roles:
        from langgpt.guard import check_values

        check_values(dict(variables or {}))
    if target not in TEXT_TARGETS:
        raise UsageError(f"unknown target `{target}` (choose from {', '.join(TEXT_TARGETS)})")
    diagnostics = check(program)
    if any(d.is_error for d in diagnostics):
        raise DiagnosticError(diagnostics)
    warnings = tuple(diagnostics)
    try:
        return _compile_checked(program, target, variables, entry, answer, cli_values, warnings)
    except DiagnosticError as exc:  # keep the warnings: a failing run still reports them
        raise DiagnosticError([*exc.diagnostics, *warnings]) from None
    except RecursionError:
        raise DiagnosticError([_too_deep(program), *warnings]) from None


def _compile_checked(
    program: Program,
    target: str,
    variables: dict[str, VarValue] | None,
    entry: str | None,
    answer: str | None,
    cli_values: frozenset[str],
    warnings: tuple[Diagnostic, ...],
) -> CompileResult:
    if target == "ast":
        from langgpt.targets.ast_json import compile_document

        return CompileResult(compile_document(program.document), target, None, warnings)
    from langgpt.targets import rendered_target

    roles = program.document.roles()
    if target == "markdown" and entry is None and len(roles) > 1 and not program.document.templates():
        # a collection (what `lgpt import` makes of a file with several roles) compiles back whole
        outputs = [render(program, variables, entry=r.name, answer=answer, cli_values=cli_values) for r in roles]
        text = "\n".join(rendered_target(target)(r) for r in outputs)
        return CompileResult(text, target, None, warnings)
    rendered = render(program, variables, entry=entry, answer=answer, cli_values=cli_values)

    return CompileResult(rendered_target(target)(rendered), target, rendered.name, warnings)


def render(
    program: Program,
    variables: dict[str, VarValue] | None = None,
    *,
    entry: str | None = None,
    answer: str | None = None,
    cli_values: frozenset[str] = frozenset(),
    shot_limits: dict[str, int] | None = None,
) -> RenderedRole | RenderedTemplate:
    """Evaluate the entry against variable values (no checks run here; ``compile`` runs them).
    ``shot_limits`` caps the shots of example sets (used to fit a token budget)."""
    values = dict(variables or {})
    _check_values(program, values, cli_values)
    decl = select_entry(program, entry)
    ctx = Context(program, values, from_cli=cli_values, answer=answer, shot_limits=shot_limits)
    renderer = TemplateRenderer(ctx)
    rendered: RenderedRole | RenderedTemplate
    if isinstance(decl, ast.Role):
        rendered = renderer.role(program.main, decl)
    else:
        rendered = renderer.template(program.main, decl)
    ctx.fail_if_problems()
    return rendered


def entries(program: Program) -> list[str]:
    """Names that can be compiled: the main file's templates, then its roles."""
    doc = program.document
    return [t.name for t in doc.templates()] + [r.name for r in doc.roles()]


def select_entry(program: Program, entry: str | None) -> ast.Role | ast.Template:
    doc = program.document
    if entry is None:
        candidates: list[ast.Role | ast.Template] = [*doc.templates(), *doc.roles()]
        if not candidates:
            raise DiagnosticError(
                [
                    Diagnostic(
                        "E116",
                        "nothing to compile: the file declares no role and no template",
                        doc.span,
                        "a `role` or a `template`",
                    )
                ]
            )
        return candidates[0]
    found = lookup(program.main, entry)
    decl = found.decl if found is not None and found.module is program.main else None
    if isinstance(decl, (ast.Role, ast.Template)):
        return decl
    close = difflib.get_close_matches(entry, entries(program), n=1)
    hint = f"did you mean `{close[0]}`?" if close else f"entries in this file: {', '.join(entries(program)) or 'none'}"
    raise UsageError(f"no role or template named `{entry}` in {doc.path} ({hint})")


def _check_values(program: Program, values: dict[str, Any], cli_values: frozenset[str]) -> None:
    """Every given value must name a declared variable and fit its type, used or not."""
    declared: dict[str, list[ast.VarDecl]] = {}
    for module in program.modules:
        for var in module.document.variables():
            declared.setdefault(var.name, []).append(var)
    problems = []
    for name in sorted(set(values) - set(declared)):
        close = difflib.get_close_matches(name, sorted(declared), n=1)
        hint = (
            f"did you mean `{close[0]}`?" if close else f"declared variables: {', '.join(sorted(declared)) or 'none'}"
        )
        problems.append(
            Diagnostic(
                "E118", f"value given for undeclared variable `{name}`", None, "a variable declared with `var`", hint
            )
        )
    for name, decls in declared.items():
        if name not in values:
            continue
        for var in decls:
            problem = value_problem(values[name], var.type, from_cli=name in cli_values)
            if problem:
                problems.append(
                    Diagnostic(
                        "E111",
                        f"value given for `{name}` does not match its type {var.type.describe()}",
                        var.span,
                        problem,
                    )
                )
    if problems:
        raise DiagnosticError(problems)


def _as_program(program: Program | str | os.PathLike[str]) -> Program:
    if isinstance(program, Program):
        return program
    return _load(Path(program))


__all__ = ["CompileResult", "check", "compile", "entries", "load", "parse", "render", "sort_diagnostics"]
