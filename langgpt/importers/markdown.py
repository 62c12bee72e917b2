"""LangGPT Markdown -> .lgpt.

The importer reads a Markdown prompt as roles (``# Role: X``, ``# 角色：X``, or the first ``#`` title
of a persona prompt) made of sections (the headings one level below), and writes each section in the
most structured form that still gives back the original text: profile fields, lists, paragraphs and
sub-sections where they round-trip exactly, verbatim prose otherwise. Exact headings and blank-line
layout are recorded with ``@markdown(...)`` so that ``lgpt compile --target markdown`` reproduces the
input (up to trailing whitespace and runs of blank lines). Nothing is dropped: text that is not
recognised stays, in place, as prose. Fill-in slots (``{{x}}``, ``{x}``, ``[your_name]``) become
variables whose default is the slot as written.

Every imported role is checked: its markdown rendering must equal the input; a role whose structured
form does not is imported again as verbatim prose (and the fallback is reported).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from langgpt.errors import Diagnostic
from langgpt.fmt import quote
from langgpt.importers import ImportResult
from langgpt.render import REntry, RField, RItem, RPara, RSection, RSub
from langgpt.sections import TITLES, canonical, humanize, section_key, title_for
from langgpt.targets.text import section_body

_HEADING = re.compile(r"^(#{1,6})(\s*)(.*?)\s*$")
_ROLE = re.compile(r"^(?:role|角色)\s*(?:[:：]\s*(.*))?$", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~)")
_ITEM = re.compile(r"^( *)(-|\d+\.) (\S.*)$")
_FIELD = re.compile(r"^- ([^:：\n]+?): (\S.*)$")
_NAME = re.compile(r"[^\W\d]\w*\Z")
_SLOT = re.compile(r"\{\{\s*([^\W\d]\w*)\s*\}\}|\{([^\W\d]\w*)\}|\[([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+)\]")
_TAG_WORDS = frozenset({"if", "elif", "else", "end", "for"})
_REF = re.compile(r"<([^<>\n{}\s][^<>\n{}]{0,60})>")


# ----------------------------------------------------------------------------- reading Markdown


@dataclass
class _Section:
    heading: str  # the exact heading line ("" for text with no heading)
    title: str
    line: int  # 1-based line of the heading (or of the first body line)
    space: int  # blank lines before the heading
    gap: int  # blank lines after the heading
    body: list[str]


@dataclass
class _Role:
    heading: str
    name: str
    line: int
    before: list[str]
    sections: list[_Section] = field(default_factory=list)


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(index, level, text) of every Markdown heading outside fenced code blocks."""
    out = []
    fenced = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        m = _HEADING.match(line)
        if not fenced and m and line.startswith("#"):
            out.append((index, len(m.group(1)), m.group(3)))
    return out


def read_roles(lines: list[str]) -> list[_Role]:
    headings = _headings(lines)
    role_at = [(i, level, text) for i, level, text in headings if _ROLE.match(text)]
    if not role_at:
        title = next(((i, level, text) for i, level, text in headings if level == 1), None)
        role_at = [title] if title else []
    if not role_at:
        return [_Role("", "Prompt", 1, [], [_Section("", "Prompt", 1, 0, 0, _trim(lines))])]
    roles = []
    cursor = 0  # headings are in line order: walk them once, not once per role
    for n, (index, level, text) in enumerate(role_at):
        end = role_at[n + 1][0] if n + 1 < len(role_at) else len(lines)
        while cursor < len(headings) and headings[cursor][0] <= index:
            cursor += 1
        inner_end = cursor
        while inner_end < len(headings) and headings[inner_end][0] < end:
            inner_end += 1
        before = _trim(lines[:index]) if n == 0 else []
        if before and _trailing_blanks(lines[:index]):
            before.append("")  # the blank line between the preface and the role heading
        m = _ROLE.match(text)
        name = (m.group(1) or "").strip() if m else text.strip()
        role = _Role(lines[index].rstrip(), name or "Role", index + 1, before)
        inner = [(i, lv, t) for i, lv, t in headings[cursor:inner_end] if lv >= level]
        # sections are the shallowest headings below the role's; `## Role` prompts use `##` for both
        deeper = [lv for _, lv, _ in inner if lv > level]
        section_level = min(deeper) if deeper else level
        starts = [i for i, lv, _ in inner if lv == section_level]
        role.sections = _sections(lines, index + 1, end, starts)
        roles.append(role)
    return roles


def _sections(lines: list[str], start: int, end: int, starts: list[int]) -> list[_Section]:
    sections: list[_Section] = []
    intro_end = starts[0] if starts else end
    intro = lines[start:intro_end]
    if any(line.strip() for line in intro):
        lead = _leading_blanks(intro)
        sections.append(_Section("", "Intro", start + lead + 1, lead, 0, _trim(intro)))
    for n, index in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else end
        body = lines[index + 1 : stop]
        space = _trailing_blanks(lines[start:index]) if n == 0 else _trailing_blanks(lines[starts[n - 1] + 1 : index])
        m = _HEADING.match(lines[index])
        title = m.group(3) if m else lines[index]
        sections.append(
            _Section(lines[index].rstrip(), title, index + 1, min(space, 1), min(_leading_blanks(body), 1), _trim(body))
        )
    return sections


def _leading_blanks(lines: list[str]) -> int:
    count = 0
    for line in lines:
        if line.strip():
            break
        count += 1
    return count if count < len(lines) else 0


def _trailing_blanks(lines: list[str]) -> int:
    count = 0
    for line in reversed(lines):
        if line.strip():
            break
        count += 1
    return count


def _trim(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return [line.rstrip() for line in lines[start:end]]


# ----------------------------------------------------------------------------- structure


def normalise(text: str) -> str:
    """What the fidelity guarantee compares: trailing whitespace dropped, runs of blank lines
    collapsed to one, blank lines at the start and end dropped."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.rstrip()
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def structure(body: list[str], canonical_name: str | None, level: int = 3) -> list[REntry] | None:
    """A structured form of a section body whose rendering equals the body, or None."""
    blocks: list[list[str]] = []
    for line in body:
        if not line.strip():
            if blocks and blocks[-1]:
                blocks.append([])
            continue
        if not blocks:
            blocks.append([])
        blocks[-1].append(line)
    entries: list[REntry] = []
    index = 0
    blocks = [b for b in blocks if b]
    while index < len(blocks):
        block = blocks[index]
        heading = _HEADING.match(block[0])
        if heading and block[0].startswith("#" * level + " ") and len(heading.group(1)) == level:
            inner = block[1:]
            index += 1
            while index < len(blocks) and not blocks[index][0].startswith("#"):
                inner += ["", *blocks[index]]
                index += 1
            sub = structure(inner, canonical_name, level + 1) if inner else []
            entries.append(RSub(heading.group(3), sub if sub is not None else "\n".join(inner)))
            continue
        entries.extend(_block_entries(block, canonical_name))
        index += 1
    candidate = section_body(RSection("x", canonical_name, "x", entries))
    # a blank line at the start or end would change the layout around the heading: compare strictly
    faithful = candidate == candidate.strip("\n") and normalise(candidate) == normalise("\n".join(body))
    return entries if faithful else None


def _block_entries(block: list[str], canonical_name: str | None) -> list[REntry]:
    if canonical_name == "profile" and all(_FIELD.match(line) for line in block):
        fields = [_FIELD.match(line) for line in block]
        if all(m and humanize(m.group(1)) == m.group(1) for m in fields):
            return [RField(m.group(1), m.group(2)) for m in fields if m]
    items = [_ITEM.match(line) for line in block]
    if all(items):
        depths = _depths([len(m.group(1)) for m in items if m])
        if depths is not None:
            workflow = canonical_name == "workflow"  # the renderer numbers its top-level items
            return [
                RItem(d, m.group(2) != "-" or (workflow and d == 0), m.group(3))
                for d, m in zip(depths, items, strict=True)
                if m
            ]
    return [RPara("\n".join(block))]


def _depths(indents: list[int]) -> list[int] | None:
    columns: list[int] = []
    out = []
    for indent in indents:
        while columns and indent < columns[-1]:
            columns.pop()
        if not columns or indent > columns[-1]:
            columns.append(indent)
        out.append(len(columns) - 1)
    return out if out and out[0] == 0 else None


# ----------------------------------------------------------------------------- writing .lgpt


class _Writer:
    def __init__(self, path: str) -> None:
        self.path = path
        self.notes: list[Diagnostic] = []
        self.variables: dict[str, str] = {}  # name -> default (the slot as written)
        self.slots: dict[str, str] = {}  # slot as written -> variable name
        self.names: set[str] = set()
        self.counts: dict[str, int] = {}  # next suffix per base name (a collection repeats names)

    def note(self, code: str, line: int, message: str) -> None:
        from langgpt.ast import Span

        span = Span(file=self.path, line=line, col=1, end_line=line, end_col=2)
        self.notes.append(Diagnostic(code, message, span))

    def role(self, role: _Role, verbatim: bool) -> str:
        name = self.unique(_identifier(role.name, "Role"))
        title = role.name if role.name != name else None
        head = f"role {name}" + (f" {quote(title)}" if title is not None else "") + " {"
        layout = []
        canonical_heading = f"# Role: {title or name}"
        if role.heading != canonical_heading:
            layout.append(f"heading={quote(role.heading)}")
        if role.before:
            layout.append(f"before={quote(chr(10).join(role.before))}")
        out = ([f"@markdown({', '.join(layout)})"] if layout else []) + [head]
        self.note(
            "I301",
            role.line,
            f"role `{name}`" + (f" from `{role.heading}`" if role.heading else " (no role heading: the whole text)"),
        )
        used: set[str] = set()
        plans = [self.plan(section, used, verbatim) for section in role.sections]
        refs = _referable(role, plans)
        for index, (section, plan) in enumerate(zip(role.sections, plans, strict=True)):
            out.extend(_indent(self.section(section, plan, refs, index == 0, bool(role.heading or role.before))))
        out.append("}")
        return "\n".join(out)

    def plan(self, section: _Section, used: set[str], verbatim: bool) -> tuple[str, list[REntry] | None]:
        """The section's name in .lgpt, and its structured entries (None: kept as prose)."""
        key_text = re.split(r"[:：]", section.title, maxsplit=1)[0].strip()
        canon = canonical(key_text) if key_text else None
        name = canon if canon and canon not in used else _identifier(key_text, "section")
        while section_key(name, canonical(name)) in used:  # the key the duplicate check compares
            name = f"{name}_{len(used) + 1}"
        used.add(section_key(name, canonical(name)))
        if canon and key_text.lower() != TITLES.get(canon, "").lower():
            self.note("I301", section.line, f"`{section.heading}` recognised as {TITLES[canon]}")
        return name, None if verbatim else structure(section.body, canonical(name))

    def section(
        self, section: _Section, plan: tuple[str, list[REntry] | None], refs: set[str], first: bool, role_heading: bool
    ) -> list[str]:
        name, entries = plan
        title = section.title
        renders_as = title_for(name, canonical(name), title)
        layout = []
        if section.heading != f"## {renders_as}":
            layout.append(f"heading={quote(section.heading)}")
        if section.space != (0 if first and not role_heading else 1):
            layout.append(f"space={section.space}")
        if section.gap:
            layout.append(f"gap={section.gap}")
        lines = [f"@markdown({', '.join(layout)})"] if layout else []
        head = f"{name} {quote(title)}"
        what = f"`{section.heading}`" if section.heading else "text before the first section"
        if entries is None:
            body = "\n".join(section.body)
            self.note("I301", section.line, f"{what} kept as verbatim text ({len(section.body)} line(s))")
            return [*lines, *f"{head} {self.block_string(body, refs)}".split("\n")]
        self.note("I301", section.line, f"{what} -> `{name}`: {_describe(entries)}")
        return [*lines, head + " {", *_indent(self.entries(entries, refs, canonical(name))), "}"]

    def entries(self, entries: list[REntry], refs: set[str], kind: str | None) -> list[str]:
        out: list[str] = []
        for entry in entries:
            if isinstance(entry, RField):
                out.append(f"{_key(entry.key)}: {self.inline(entry.text, refs)}")
            elif isinstance(entry, RItem):
                marker = "1." if entry.numbered and not (kind == "workflow" and entry.depth == 0) else "-"
                out.append("  " * entry.depth + f"{marker} {self.inline(entry.text, refs)}")
            elif isinstance(entry, RPara):
                out += self.block_string(entry.text, refs).split("\n")
            elif isinstance(entry, RSub):
                head = f"{_identifier(entry.title, 'part')} {quote(entry.title)}"
                if isinstance(entry.body, str):
                    out += f"{head} {self.block_string(entry.body, refs)}".split("\n")
                else:
                    out += [head + " {", *_indent(self.entries(entry.body, refs, kind)), "}"]
        return out

    def inline(self, text: str, refs: set[str]) -> str:
        """Item or field text: unquoted when it can be, else a quoted string."""
        escaped = self.escape(text, refs)
        if not escaped or escaped.startswith('"') or escaped != escaped.strip():
            return '"' + escaped.replace('"', '\\"') + '"'
        return escaped

    def block_string(self, text: str, refs: set[str]) -> str:
        """Prose: a triple-quoted block when dedent keeps it intact, else a one-line string."""
        escaped = self.escape(text, refs)
        lines = escaped.split("\n")
        nonblank = [line for line in lines if line.strip()]
        indents = [line[: len(line) - len(line.lstrip(" \t"))] for line in nonblank]
        if len(lines) == 1 or (any(indents) and all(indents)) or any("\t" in i for i in indents):
            return '"' + escaped.replace('"', '\\"').replace("\n", "\\n") + '"'
        body = escaped.replace('"""', '\\"\\"\\"')
        if body.endswith('"'):
            body = body[:-1] + '\\"'
        return '"""\n' + "\n".join(("  " + line) if line.strip() else "" for line in body.split("\n")) + '\n"""'

    def escape(self, text: str, refs: set[str]) -> str:
        """Plain text as the body of a .lgpt string: backslashes and tag-like braces escaped, slots
        turned into interpolations, references kept only when they name something."""
        out: list[str] = []
        index = 0
        for m in _SLOT.finditer(text):
            if (m.group(1) or m.group(2) or m.group(3)) in _TAG_WORDS:
                continue  # `{end}`, `{else}`: text that looks like a control tag stays text
            out.append(self._escape_plain(text[index : m.start()], refs))
            out.append("{" + self.slot(m.group(0), m.group(1) or m.group(2) or m.group(3)) + "}")
            index = m.end()
        out.append(self._escape_plain(text[index:], refs))
        return "".join(out)

    def _escape_plain(self, text: str, refs: set[str]) -> str:
        text = text.replace("\\", "\\\\")
        text = re.sub(r"\{(?=[^\W\d]|_|#)", r"\\{", text)

        def ref(m: re.Match[str]) -> str:
            first = m.group(1)[:1]
            is_ref = ("A" <= first <= "Z") or (first >= "\u00c0" and first.isalpha())
            return m.group(0) if not is_ref or _norm(m.group(1).strip()) in refs else "\\" + m.group(0)

        return _REF.sub(ref, text)

    def slot(self, written: str, name: str) -> str:
        if written not in self.slots:
            var = self.unique(_identifier(name, "slot"))
            self.slots[written] = var
            self.variables[var] = written
        return self.slots[written]

    def unique(self, name: str) -> str:
        base = name
        n = self.counts.get(base, 1)
        while name in self.names or name == "answer":
            n += 1
            name = f"{base}_{n}"
        self.counts[base] = n
        self.names.add(name)
        return name


def _indent(lines: list[str]) -> list[str]:
    return [("  " + line) if line else "" for line in lines]


def _describe(entries: list[REntry]) -> str:
    counts: dict[str, int] = {}
    for entry in entries:
        kind = {RField: "field", RItem: "item", RPara: "paragraph", RSub: "sub-section"}[type(entry)]
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in counts.items())


def _identifier(text: str, fallback: str) -> str:
    cleaned = re.sub(r"\W+", "_", text.strip()).strip("_")
    if cleaned and cleaned[0].isdigit():
        cleaned = f"{fallback}_{cleaned}"
    return cleaned if cleaned and _NAME.match(cleaned) else fallback


def _key(key: str) -> str:
    return key if _NAME.match(key) else quote(key)


def _norm(name: str) -> str:
    return name.lower().replace(" ", "").replace("_", "").replace("-", "")


def _referable(role: _Role, plans: list[tuple[str, list[REntry] | None]]) -> set[str]:
    """What a `<Reference>` may name once imported: the role, its sections, and the fields and
    sub-sections of sections imported with structure (`lgpt check` enforces exactly this)."""
    names = {"role", _norm(role.name), _norm(_identifier(role.name, "Role"))}
    for section, (name, entries) in zip(role.sections, plans, strict=True):
        names |= {_norm(section.title), _norm(name), _norm(title_for(name, canonical(name), section.title))}
        canon = canonical(name)
        if canon:
            names |= {_norm(canon), _norm(TITLES[canon])}
        names |= _entry_names(entries or [])
    return names


def _entry_names(entries: list[REntry]) -> set[str]:
    names: set[str] = set()
    for entry in entries:
        if isinstance(entry, RField):
            names.add(_norm(entry.key))
        elif isinstance(entry, RSub):
            names |= {_norm(entry.title), _norm(_identifier(entry.title, "part"))}
            if not isinstance(entry.body, str):
                names |= _entry_names(entry.body)
    return names


# ----------------------------------------------------------------------------- entry point


def import_text(text: str, path: str, verify: bool | None = None) -> ImportResult:
    """Import Markdown. Structured sections are always checked against the input as they are built;
    ``verify`` also compiles the whole result back to Markdown and compares (default: for inputs
    under 200 kB, where it costs little; parsing a large collection again takes seconds)."""
    text = text[1:] if text.startswith("\ufeff") else text  # a byte-order mark is not content
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    roles = read_roles(lines)
    writer = _Writer(path)
    blocks = [writer.role(role, verbatim=False) for role in roles]
    source = _assemble(writer, blocks)
    if verify is None:
        verify = len(text) < 200_000
    if verify and not _faithful(source, text):
        writer = _Writer(path)
        blocks = [writer.role(role, verbatim=True) for role in roles]
        source = _assemble(writer, blocks)
        writer.note(
            "W302",
            1,
            "the structured form did not reproduce the input exactly, so every section is kept as verbatim text",
        )
    if writer.variables:
        slots = ", ".join(f"{v} ({d})" for v, d in writer.variables.items())
        writer.note("W301", 1, f"fill-in slots became variables whose default is the slot as written: {slots}")
    return ImportResult(source=source, notes=tuple(writer.notes))


def _assemble(writer: _Writer, blocks: list[str]) -> str:
    header = ["lgpt 1", ""]
    for name, default in writer.variables.items():
        header.append(
            f"var {name}: text = {quote(default)} {quote('fill-in slot ' + default + ' of the imported prompt')}"
        )
    return "\n".join(header) + ("\n\n" if writer.variables else "\n") + "\n\n".join(blocks) + "\n"


def _faithful(source: str, original: str) -> bool:
    """Whether compiling every role to markdown gives back the original text."""
    import langgpt

    program = langgpt.parse(source, "<import>")
    rendered = langgpt.compile(program, target="markdown").output
    return normalise(rendered) == normalise(original)
