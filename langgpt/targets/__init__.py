"""Compile targets, one module each. A target turns a rendered role or template into bytes.

Text-producing targets share the evaluator in ``langgpt.render``; ``ast`` serialises the parsed tree
instead. Each module is imported only when its target is asked for (the training targets added later
import torch and transformers, which compile-only commands must never load).

| target | module | output |
| --- | --- | --- |
| text | ``text`` | LangGPT-style Markdown for roles, the prompt string for templates |
| messages | ``messages`` | chat messages as JSON |
| markdown | ``markdown`` | a role as LangGPT Markdown, in the layout it was imported from |
| json, yaml | ``structured`` | a role in LangGPT's JSON / YAML role form |
| ast | ``ast_json`` | the parsed document as JSON |
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

#: target name -> (module, function) turning a RenderedRole / RenderedTemplate into text
_RENDERED_TARGETS: dict[str, tuple[str, str]] = {
    "text": ("text", "compile_target"),
    "messages": ("messages", "compile_target"),
    "markdown": ("markdown", "compile_target"),
    "json": ("structured", "compile_json"),
    "yaml": ("structured", "compile_yaml"),
}


def rendered_target(name: str) -> Callable[[Any], str]:
    module, func = _RENDERED_TARGETS[name]
    target: Callable[[Any], str] = getattr(importlib.import_module(f"langgpt.targets.{module}"), func)
    return target
