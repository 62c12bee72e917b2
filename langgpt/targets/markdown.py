"""The ``markdown`` target (being written)."""

from __future__ import annotations

from typing import Any

from langgpt.errors import UsageError


def compile_target(rendered: Any) -> str:
    raise UsageError("the markdown target is not available yet")
