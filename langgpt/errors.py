"""One error hierarchy and the diagnostics every pass reports.

A diagnostic has a stable code, a severity, a span, what went wrong, what was expected and a hint.
Codes are stable: tests, docs and users' CI scripts match on them. The table below is the registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from functools import lru_cache

from langgpt.ast import Span
from langgpt.records import Record

#: Every diagnostic code the compiler can emit, with a one-line summary (documented in docs/language.md).
CODES: dict[str, str] = {
    "E001": "syntax error",
    "E002": "unterminated string or tag",
    "E003": "invalid tag inside a string",
    "E004": "unsupported language version",
    "E005": "input is not valid UTF-8 or cannot be read",
    "E101": "undefined name",
    "E102": "default does not match the variable's type",
    "E103": "duplicate declaration",
    "E104": "duplicate section or field",
    "E105": "unknown section or field reference",
    "E106": "import cycle",
    "E107": "imported file not found",
    "E108": "unknown role, template or example set",
    "E109": "example lacks a field its format uses",
    "E110": "missing value for a required variable",
    "E111": "value does not match the variable's type",
    "E112": "unknown type",
    "E113": "invalid template member",
    "E114": "inheritance cycle",
    "E115": "example data file cannot be read",
    "E116": "nothing to compile",
    "E117": "invalid loop or condition, or output over the size limit",
    "E118": "value given for an undeclared variable",
    "E119": "example set has both inline records and a `from` file",
    "E120": "invalid annotation setting",
    "E121": "input nested too deeply",
    "E122": "too many imports, or an import chain too deep",
    "E123": "a value carries a chat role marker (--guard-roles)",
    "E401": "invalid setting in a verbalizer, soft_prompt or train block",
    "E402": "label without label words",
    "E403": "label word shared by two labels",
    "E404": "verbalizer labels differ from the label variable's",
    "E405": "bad data row (malformed, missing field, unknown label, empty text)",
    "E406": "model or tokenizer cannot be loaded",
    "E407": "the prompt does not fit the token budget",
    "E301": "input cannot be imported (malformed JSON/YAML role, unreadable template)",
    "E302": "template construct outside the supported subset (PromptSource Jinja, OpenPrompt)",
    "W201": "unused variable",
    "W202": "section name looks like a misspelling of a known section",
    "W203": "append (+=) to a section the base role does not have",
    "W204": "unused example set",
    "W205": "unknown annotation (it has no effect)",
    "W401": "label word spans several tokens",
    "W402": "soft-prompt init text longer than the virtual tokens (it is cut)",
    "W301": "fill-in slots turned into variables",
    "W302": "part of the input is kept as verbatim text (it has no structured equivalent)",
    "I301": "what an importer inferred (sections, fields, lists, variables)",
}


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Diagnostic(Record):
    code: str
    message: str
    span: Span | None = None
    expected: str | None = None
    hint: str | None = None

    @property
    def severity(self) -> Severity:
        return {"W": Severity.WARNING, "I": Severity.NOTE}.get(self.code[:1], Severity.ERROR)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def location(self) -> str:
        if self.span is None:
            return "<input>"
        return f"{self.span.file}:{self.span.line}:{self.span.col}"

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.span.file if self.span else None,
            "line": self.span.line if self.span else None,
            "col": self.span.col if self.span else None,
            "end_line": self.span.end_line if self.span else None,
            "end_col": self.span.end_col if self.span else None,
            "expected": self.expected,
            "hint": self.hint,
        }


class LgptError(Exception):
    """Base of every error langgpt raises on purpose."""


class DiagnosticError(LgptError):
    """Raised when compilation cannot go on; carries every diagnostic found so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        summary = f"{first.location()}: {first.code} {first.message}" if first else "compilation failed"
        super().__init__(summary)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)


class UsageError(LgptError):
    """The caller asked for something impossible (unknown target, bad --var syntax...)."""


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Stable order: by file, position, then code; duplicates removed."""
    unique = dict.fromkeys(diags)
    return sorted(
        unique,
        key=lambda d: (
            d.span.file if d.span else "",
            d.span.line if d.span else 0,
            d.span.col if d.span else 0,
            d.code,
        ),
    )


def format_diagnostic(diag: Diagnostic, sources: Mapping[str, str]) -> str:
    """Render like a compiler: header, location, source line with a caret, expected and hint."""
    lines = [f"{diag.severity.value}[{diag.code}]: {diag.message}"]
    span = diag.span
    if span is not None:
        lines.append(f"  --> {diag.location()}")
        text = sources.get(span.file)
        if text is not None:
            lines.extend(_source_excerpt(text, span))
    if diag.expected:
        lines.append(f"   = expected: {diag.expected}")
    if diag.hint:
        lines.append(f"   = hint: {diag.hint}")
    return "\n".join(lines)


@lru_cache(maxsize=16)
def _lines_of(text: str) -> list[str]:
    """Lines of a source, split once: one run can report thousands of diagnostics on one file."""
    return text.splitlines()


def _source_excerpt(text: str, span: Span) -> list[str]:
    source_lines = _lines_of(text)
    if not 1 <= span.line <= len(source_lines):
        return []
    line = source_lines[span.line - 1].replace("\t", " ")
    gutter = " " * len(str(span.line))
    width = span.end_col - span.col if span.end_line == span.line and span.end_col > span.col else 1
    width = max(1, min(width, len(line) - span.col + 1))
    return [
        f" {gutter} |",
        f" {span.line} | {line}",
        f" {gutter} | {' ' * _display_width(line[: span.col - 1])}{'^' * _display_width(line[span.col - 1 : span.col - 1 + width]) or '^'}",
    ]


def _display_width(text: str) -> int:
    """Terminal columns: CJK and other wide characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
