"""Semantic checks over a loaded program, one pass per module of this package.

Each pass is a function ``(program) -> list[Diagnostic]``; ``run_checks`` runs them all and returns
every diagnostic in a stable order, so one run reports every problem it can find.
"""

from __future__ import annotations

from langgpt.checks import configs, declarations, examples, names, references
from langgpt.errors import Diagnostic, sort_diagnostics
from langgpt.loader import Program

PASSES = (declarations.check, names.check, references.check, examples.check, configs.check)


def run_checks(program: Program) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for check in PASSES:
        found.extend(check(program))
    return sort_diagnostics(found)
