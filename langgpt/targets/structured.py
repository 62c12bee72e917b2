"""The ``json`` and ``yaml`` targets: a role in LangGPT's JSON / YAML role form (being written)."""

from __future__ import annotations

from typing import Any

from langgpt.errors import UsageError


def compile_json(rendered: Any) -> str:
    raise UsageError("the json target is not available yet")


def compile_yaml(rendered: Any) -> str:
    raise UsageError("the yaml target is not available yet")
