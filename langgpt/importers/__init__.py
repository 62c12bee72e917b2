"""Importers: other prompt formats -> .lgpt source text.

Each importer module exposes ``import_text(text, path) -> ImportResult``. The result is .lgpt source
(which then goes through the normal parser and checks) plus notes that say what was inferred, with
line numbers in the input. ``import_file`` picks the importer from the file name.

| input | module |
| --- | --- |
| LangGPT Markdown (.md, .markdown, .txt) | ``markdown`` |
| LangGPT role objects (.json, .yaml, .yml) | ``structured`` |
| OpenPrompt template strings (.openprompt, .txt with --from openprompt) | ``openprompt`` |
| PromptSource ``templates.yaml`` | ``promptsource`` |
"""

from __future__ import annotations

import importlib
from pathlib import Path

from langgpt.errors import Diagnostic, DiagnosticError, UsageError
from langgpt.records import Record

FORMATS = ("markdown", "json", "yaml", "openprompt", "promptsource")
_MODULES = {
    "markdown": "markdown",
    "json": "structured",
    "yaml": "structured",
    "openprompt": "openprompt",
    "promptsource": "promptsource",
}
_BY_SUFFIX = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "markdown",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
}


class ImportResult(Record):
    """The .lgpt source an importer wrote, and what it inferred (notes and warnings, with the input
    file's line numbers)."""

    source: str
    notes: tuple[Diagnostic, ...] = ()


def detect_format(path: Path, text: str) -> str:
    """The input format from the file name (PromptSource's ``templates.yaml`` by its shape)."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml") and "!Template" in text and "jinja:" in text:
        return "promptsource"
    if suffix == ".openprompt":
        return "openprompt"
    if suffix not in _BY_SUFFIX:
        raise UsageError(f"cannot tell the format of {path} from its name; pass --from ({', '.join(FORMATS)})")
    return _BY_SUFFIX[suffix]


def import_text(text: str, path: str, fmt: str) -> ImportResult:
    if fmt not in _MODULES:
        raise UsageError(f"unknown import format `{fmt}` (choose from {', '.join(FORMATS)})")
    module = importlib.import_module(f"langgpt.importers.{_MODULES[fmt]}")
    try:
        result: ImportResult = (
            module.import_text(text, path) if fmt not in ("json", "yaml") else module.import_text(text, path, fmt)
        )
    except RecursionError:
        raise DiagnosticError([_unreadable(path, "the input is nested too deeply")]) from None
    except Exception as exc:  # a YAML reader/parser error the importer did not position: still a diagnostic
        if type(exc).__module__.split(".")[0] != "yaml":
            raise
        raise DiagnosticError([_unreadable(path, f"not valid YAML: {str(exc).splitlines()[0]}")]) from None
    return result


def _unreadable(path: str, why: str) -> Diagnostic:
    from langgpt.ast import Span

    return Diagnostic("E301", f"{path}: {why}", Span(file=path, line=1, col=1, end_line=1, end_col=2))
