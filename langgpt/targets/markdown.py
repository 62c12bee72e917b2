"""The ``markdown`` target: a role as LangGPT Markdown, in the layout recorded by ``@markdown(...)``.

Without annotations this is the ``text`` target's layout. An imported role carries the details of its
original Markdown (``lgpt import``): the exact heading lines, blank lines before a heading (``space``)
and after it (``gap``), and text before the role heading (``before``). So import then compile to
markdown gives back the original text (up to trailing whitespace and runs of blank lines).
"""

from __future__ import annotations

from typing import Any

from langgpt.errors import UsageError
from langgpt.render import RenderedRole, RenderedTemplate, RSection
from langgpt.targets.text import section_body


def compile_target(rendered: RenderedRole | RenderedTemplate) -> str:
    if not isinstance(rendered, RenderedRole):
        raise UsageError("the markdown target compiles roles; pick a role with --entry")
    return role_markdown(rendered)


def role_markdown(role: RenderedRole) -> str:
    layout = dict(role.layout)
    out: list[str] = []
    before = layout.get("before")
    if before:
        out.append(str(before) + "\n")
    heading = layout.get("heading", f"# Role: {role.title}")
    if heading:
        out.append(f"{heading}\n")
    for section in role.sections:
        out.append(_section(section, first=not out))
    return "".join(out)


def _section(section: RSection, first: bool) -> str:
    layout: dict[str, Any] = dict(section.layout)
    text = "" if first else "\n" * int(layout.get("space", 1))
    heading = layout.get("heading", f"## {section.title}")
    if heading:
        text += f"{heading}\n"
    text += "\n" * int(layout.get("gap", 0))
    body = section_body(section)
    return text + (body + "\n" if body else "")
