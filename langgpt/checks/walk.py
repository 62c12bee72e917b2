"""Generic walks over role bodies shared by the checks."""

from __future__ import annotations

from collections.abc import Iterator

from langgpt import ast


def role_sections(members: tuple[ast.RoleMember, ...]) -> Iterator[ast.Section]:
    """Every section of a role, in every branch of its conditionals and loops."""
    for member in members:
        if isinstance(member, ast.Section):
            yield member
        elif isinstance(member, ast.RoleIf):
            for branch in member.branches:
                yield from role_sections(branch.body)
        else:
            yield from role_sections(member.body)


def entries(body: ast.Block | ast.Text) -> Iterator[ast.Entry]:
    """Every entry of a section body, nested branches included (not subsections' contents)."""
    if isinstance(body, ast.Text):
        return
    yield from _entries(body.entries)


def _entries(items: tuple[ast.Entry, ...]) -> Iterator[ast.Entry]:
    for entry in items:
        yield entry
        if isinstance(entry, ast.EntryIf):
            for branch in entry.branches:
                yield from _entries(branch.body)
        elif isinstance(entry, ast.EntryFor):
            yield from _entries(entry.body)
        elif isinstance(entry, ast.Subsection) and isinstance(entry.body, ast.Block):
            yield from _entries(entry.body.entries)


def texts_of_entry(entry: ast.Entry) -> Iterator[ast.Text]:
    if isinstance(entry, ast.Item):
        yield entry.text
    elif isinstance(entry, ast.FieldEntry):
        yield entry.value
    elif isinstance(entry, ast.Paragraph):
        yield entry.text
    elif isinstance(entry, ast.Subsection) and isinstance(entry.body, ast.Text):
        yield entry.body


def role_texts(role: ast.Role) -> Iterator[ast.Text]:
    for section in role_sections(role.members):
        if isinstance(section.body, ast.Text):
            yield section.body
        for entry in entries(section.body):
            yield from texts_of_entry(entry)
