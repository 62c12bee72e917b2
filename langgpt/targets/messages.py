"""The ``messages`` target: a JSON list of ``{"role", "content"}`` chat messages.

A role compiles to one system message holding its Markdown; a chat template to its messages in
order (shots expanded); a text template to one user message.
"""

from __future__ import annotations

import json

from langgpt.render import Message, RenderedRole, RenderedTemplate
from langgpt.targets.text import role_markdown


def messages_of(result: RenderedRole | RenderedTemplate) -> list[Message]:
    if isinstance(result, RenderedRole):
        return [Message("system", role_markdown(result).rstrip("\n"))]
    if result.text is not None:
        return [Message("user", result.text)]
    return list(result.messages)


def compile_target(result: RenderedRole | RenderedTemplate) -> str:
    payload = [{"role": m.role, "content": m.content} for m in messages_of(result)]
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
