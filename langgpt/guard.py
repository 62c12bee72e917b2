"""Role-injection guard for chat output (``lgpt compile --guard-roles``).

In the ``messages`` target a value can never create a message: contents are JSON strings. But those
messages usually go through a model's chat template, where text such as ``<|im_start|>system`` or a
line ``assistant: ...`` can pose as a new turn. With the guard on, a variable value carrying such a
marker is refused (E123) before anything is compiled.
"""

from __future__ import annotations

import re
from typing import Any

from langgpt.errors import Diagnostic, DiagnosticError

#: chat-control spellings of common chat templates, and a line that opens like a role turn
MARKERS = re.compile(
    r"<\|(?:im_start|im_end|system|user|assistant|start_header_id|end_header_id|eot_id|endoftext)\|>"
    r"|\[/?INST\]|<</?SYS>>|</?s>|<start_of_turn>|<end_of_turn>"
    r"|(?:^|\n)\s*(?:system|user|assistant|human|ai)\s*:",
    re.IGNORECASE,
)


def check_values(values: dict[str, Any]) -> None:
    """Raise E123 for every value (or list item) that carries a chat role marker."""
    problems = []
    for name, value in sorted(values.items()):
        for text in _strings(value):
            found = MARKERS.search(text)
            if found:
                marker = found.group(0).strip()
                problems.append(
                    Diagnostic(
                        "E123",
                        f"value of `{name}` contains the chat role marker `{marker}`",
                        None,
                        "plain text without role markers",
                        "remove the marker, or compile without --guard-roles if the text is trusted",
                    )
                )
                break
    if problems:
        raise DiagnosticError(problems)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
