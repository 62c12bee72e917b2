"""langgpt: a language and compiler for structured prompts.

The front door::

    import langgpt
    program = langgpt.load("prompts/sentiment.lgpt")        # or langgpt.parse(source_text)
    for diagnostic in langgpt.check(program):                 # errors and warnings, with positions
        print(diagnostic.location(), diagnostic.message)
    result = langgpt.compile(program, target="text", variables={"sentence": "Great phone."})
    print(result.output)

Pipeline: grammar/lgpt.lark -> parser -> ast -> checks -> render -> targets -> cli.
"""

from __future__ import annotations

from langgpt.compiler import CompileResult, check, compile, entries, load, parse, render
from langgpt.errors import Diagnostic, DiagnosticError, LgptError, UsageError, format_diagnostic
from langgpt.loader import Program

__version__ = "0.1.0"

__all__ = [
    "CompileResult",
    "Diagnostic",
    "DiagnosticError",
    "LgptError",
    "Program",
    "UsageError",
    "__version__",
    "check",
    "compile",
    "entries",
    "format_diagnostic",
    "load",
    "parse",
    "render",
]
