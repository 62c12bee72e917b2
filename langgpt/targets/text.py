"""The ``text`` target: roles as LangGPT-style Markdown, templates as the prompt string.

Layout of a role: ``# Role: Title``, then one ``## Section`` per section separated by blank lines;
profile fields as ``- Key: value``; list items as ``- text`` (numbered ``1.`` in Workflow or when
written with numbers), nested two spaces per level; sub-sections as ``###``. Output ends with one newline.
"""

from __future__ import annotations

from collections.abc import Sequence

from langgpt.render import RenderedRole, RenderedTemplate, REntry, RField, RItem, RPara, RSection, RSub


def compile_target(result: RenderedRole | RenderedTemplate) -> str:
    if isinstance(result, RenderedRole):
        return role_markdown(result)
    return template_text(result)


def template_text(template: RenderedTemplate) -> str:
    if template.text is not None:
        return template.text
    return "\n\n".join(m.content for m in template.messages)


def role_markdown(role: RenderedRole) -> str:
    blocks = [f"# Role: {role.title}"]
    blocks.extend(_section(s) for s in role.sections)
    return "\n\n".join(b for b in blocks if b) + "\n"


def _section(section: RSection) -> str:
    heading = f"## {section.title}"
    body = section_body(section)
    return f"{heading}\n{body}" if body else heading


def section_body(section: RSection) -> str:
    """A section's content under its heading (shared with the markdown target)."""
    return _commands(section.body) if section.canonical == "commands" else _body(section.body, 3)


def _body(body: Sequence[REntry] | str, level: int) -> str:
    if isinstance(body, str):
        return body
    blocks: list[str] = []
    lines: list[str] = []
    counters: dict[int, int] = {}
    for entry in body:
        if isinstance(entry, (RItem, RField)):
            lines.append(_list_line(entry, counters))
            continue
        counters.clear()
        if lines:
            blocks.append("\n".join(lines))
            lines = []
        if isinstance(entry, RPara):
            blocks.append(entry.text)
        elif isinstance(entry, RSub):
            inner = _body(entry.body, level + 1)
            heading = "#" * min(level, 6) + " " + entry.title
            blocks.append(f"{heading}\n{inner}" if inner else heading)
    if lines:
        blocks.append("\n".join(lines))
    return "\n\n".join(b for b in blocks if b)


def _list_line(entry: RItem | RField, counters: dict[int, int]) -> str:
    """One list line. ``counters`` holds, per depth, the running number of a numbered list; the
    entry at key ``-1 - depth`` remembers the marker width there, because CommonMark nests an item
    only when it is indented to the text of its parent (3 spaces under ``1. ``, 2 under ``- ``)."""
    if isinstance(entry, RField):
        counters.clear()
        return _hanging("- ", f"{entry.key}: {entry.text}", "")
    for deeper in [d for d in counters if d > entry.depth or d < -1 - entry.depth]:
        del counters[deeper]
    if entry.numbered:
        counters[entry.depth] = counters.get(entry.depth, 0) + 1
        marker = f"{counters[entry.depth]}. "
    else:
        counters.pop(entry.depth, None)
        marker = "- "
    counters[-1 - entry.depth] = len(marker)
    indent = " " * sum(counters.get(-1 - d, 2) for d in range(entry.depth))
    return _hanging(marker, entry.text, indent)


def _hanging(marker: str, text: str, indent: str) -> str:
    """A list line whose continuation lines align under its text (valid Markdown for multi-line items)."""
    pad = " " * (len(indent) + len(marker))
    first, *rest = text.split("\n")
    return "\n".join([indent + marker + first, *[(pad + line) if line else "" for line in rest]])


def _commands(body: list[REntry] | str) -> str:
    """LangGPT's Commands layout: ``- Prefix: "/"`` then the commands nested under ``- Commands:``."""
    if isinstance(body, str):
        return body
    prefix = [e for e in body if isinstance(e, RField) and e.key.lower() == "prefix"]
    commands = [e for e in body if isinstance(e, RField) and e.key.lower() != "prefix"]
    others = [e for e in body if not isinstance(e, RField)]
    lines = [_hanging("- ", f"Prefix: {p.text}", "") for p in prefix]
    if commands:
        lines.append("- Commands:")
        lines.extend(_hanging("- ", f"{c.key}: {c.text}", "  ") for c in commands)
    rest = _body(others, 3)
    return "\n\n".join(part for part in ("\n".join(lines), rest) if part)
