"""`lgpt fmt`: one canonical layout for .lgpt source, prompt bodies included.

The formatter prints the AST back as source: two-space indentation, one declaration per paragraph,
multi-line prompt bodies (triple-quoted strings) re-indented under their owner, values and conditions
spelled one way. Comments are kept: a comment on its own line stays before the node that follows it,
a comment after code on the same line stays at the end of that line. At most one blank line is kept
between siblings, where the source had one.

Safety: the result is parsed again and must give the same tree (spans and spellings aside) as the
input; otherwise the formatter refuses (FormatError), so formatting can never change what any target
compiles to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from langgpt import ast
from langgpt.errors import LgptError
from langgpt.parser import parse, parse_with_closers
from langgpt.records import Frozen
from langgpt.strings import decode_lines

INDENT = "  "
MAX_WIDTH = 100
_IDENT = re.compile(r"[^\W\d]\w*\Z")


class FormatError(LgptError):
    """The formatter could not produce an equivalent layout (a bug: the input is left alone)."""


def format_source(text: str, path: str = "<string>") -> str:
    """The canonical layout of ``text``. Raises DiagnosticError when it does not parse."""
    document, closers = parse_with_closers(text, path)
    try:
        result = _Printer(text, document.comments, closers).document(document)
        same = shape(parse(result, path)) == shape(document)
    except RecursionError:
        from langgpt.errors import Diagnostic, DiagnosticError

        at = document.span
        raise DiagnosticError(
            [Diagnostic("E121", "the input is nested too deeply to format", at, "shallower nesting")]
        ) from None
    if not same:
        raise FormatError(f"{path}: formatting would change the meaning of the file; it was left unchanged")
    return result


def shape(node: Any) -> Any:
    """A node's content without positions, source spellings or comments: equal shapes compile alike."""
    if isinstance(node, ast.Document):
        return ("document", node.header and node.header.version, shape(node.decls))
    if isinstance(node, Frozen):
        return (type(node).__name__, *(shape(getattr(node, f)) for f in node._fields if f not in ("span", "literal")))
    if isinstance(node, (tuple, list)):
        return tuple(shape(n) for n in node)
    return node


# ----------------------------------------------------------------------------- printer


class _Printer:
    def __init__(self, source: str, comments: tuple[ast.Comment, ...], closers: list[tuple[int, int]]) -> None:
        self.lines = source.split("\n")  # the parser's notion of lines: "\r" or "\u2028" inside strings are not breaks
        self.closers = sorted(closers)
        self.pending = sorted(comments, key=lambda c: (c.span.line, c.span.col))
        self.out: list[str] = []
        self.depth = 0
        self.item_base = 0  # item depth that sits at the current indentation (inside if/for bodies)

    # -- output helpers
    def emit(self, text: str) -> None:
        self.out.append((INDENT * self.depth + text) if text else "")

    def blank(self) -> None:
        if self.out and self.out[-1] != "":
            self.out.append("")

    def comments_before(self, line: int) -> None:
        """Own-line comments above ``line``; a blank line that separated them from each other or
        from the code below is kept (one at most)."""
        previous = None
        while self.pending and self.pending[0].span.line < line:
            comment = self.pending.pop(0)
            if previous is not None and self.blank_between(previous, comment.span.line):
                self.blank()
            self.emit(comment.text.rstrip())
            previous = comment.span.line
        if previous is not None and line < 10**9 and self.blank_between(previous, line):
            self.blank()

    def blank_between(self, first: int, last: int) -> bool:
        return any(not self.lines[n - 1].strip() for n in range(first + 1, min(last, len(self.lines) + 1)))

    def trailing_comment(self, line: int) -> None:
        if self.pending and self.pending[0].span.line == line and self.out:
            self.out[-1] += "  " + self.pending.pop(0).text.rstrip()

    def had_blank_before(self, node: ast.Node) -> bool:
        """Whether the source had a blank line just above the node (or above its leading comments)."""
        line = _start_line(node) - 1
        comment_lines = {c.span.line for c in self.pending}
        while line >= 1 and line in comment_lines:
            line -= 1
        return line >= 1 and not self.lines[line - 1].strip()

    def node_start(self, node: ast.Node, first: bool) -> None:
        if not first and self.had_blank_before(node):
            self.blank()
        self.comments_before(_start_line(node))

    def close(self, text: str, node: Any) -> None:
        """Close a block: comments inside it, before its `}`, stay inside."""
        close_line = self.close_pos(node)[0]
        self.depth += 1
        self.comments_before(close_line)
        self.depth -= 1
        self.emit(text)
        self.trailing_comment(close_line)

    # -- document
    def document(self, doc: ast.Document) -> str:
        if doc.header is not None:
            self.comments_before(doc.header.span.line)
            self.emit(f"lgpt {doc.header.version}")
            self.trailing_comment(doc.header.span.line)
        previous: ast.Node | None = None
        for decl in doc.decls:
            grouped = (
                previous is not None and type(previous) is type(decl) and isinstance(decl, (ast.Import, ast.VarDecl))
            )
            if self.out and not (grouped and not self.had_blank_before(decl)):
                self.blank()
            self.comments_before(_start_line(decl))
            self.decl(decl)
            previous = decl
        self.comments_before(10**9)
        while self.out and self.out[-1] == "":
            self.out.pop()
        return "\n".join(self.out) + "\n"

    def decl(self, decl: ast.Node) -> None:
        if isinstance(decl, ast.Import):
            alias = f" as {decl.alias}" if decl.alias else ""
            self.emit(f"import {quote(decl.path)}{alias}")
            self.trailing_comment(decl.span.line)
        elif isinstance(decl, ast.VarDecl):
            self.var(decl)
        elif isinstance(decl, ast.Role):
            self.role(decl)
        elif isinstance(decl, ast.Examples):
            self.examples(decl)
        elif isinstance(decl, ast.Template):
            self.template(decl)
        elif isinstance(decl, ast.ConfigBlock):
            self.config(decl)

    def var(self, var: ast.VarDecl) -> None:
        text = f"var {var.name}: {type_text(var.type)}"
        if var.default is not None:
            text += f" = {value_text(var.default)}"
        if var.description is not None:
            text += f" {quote(var.description)}"
        if var.truncate is not None:
            text += f" truncate {var.truncate}"
        self.emit(text)
        self.trailing_comment(_end_line(var))

    # -- roles
    def annotations(self, notes: tuple[ast.CallValue, ...]) -> None:
        for note in notes:
            self.emit("@" + value_text(note))

    def role(self, role: ast.Role) -> None:
        self.annotations(role.annotations)
        head = f"role {role.name}"
        if role.title is not None:
            head += f" {quote(role.title)}"
        if role.extends is not None:
            head += f" extends {role.extends.name}"
        self.emit(head + " {")
        self.trailing_comment(role.span.line)
        self.members(role.members)
        self.close("}", role)

    def members(self, members: tuple[ast.RoleMember, ...]) -> None:
        self.depth += 1
        for index, member in enumerate(members):
            self.node_start(member, index == 0)
            if isinstance(member, ast.Section):
                self.section(member)
            elif isinstance(member, ast.RoleIf):
                self.conditional(member.branches, self.members, member)
            else:
                self.emit(f"for {member.var} in {member.iterable.name} {{")
                self.members(member.body)
                self.close("}", member)
        self.depth -= 1

    def section(self, section: ast.Section | ast.Subsection) -> None:
        self.annotations(section.annotations)
        head = section.name
        if section.title is not None:
            head += f" {quote(section.title)}"
        if isinstance(section, ast.Section) and section.append:
            head += " +="
        if isinstance(section.body, ast.Text):
            self.text_after(head + " ", section.body)
            return
        self.emit(head + " {")
        self.trailing_comment(section.span.line)
        self.entries(section.body.entries)
        self.close("}", section)

    def entries(self, entries: tuple[ast.Entry, ...]) -> None:
        self.depth += 1
        for index, entry in enumerate(entries):
            self.node_start(entry, index == 0)
            if isinstance(entry, ast.Item):
                shift = entry.depth - self.item_base  # nesting is indentation: two spaces per level
                self.depth += shift
                self.text_after(entry.marker + " ", entry.text)
                self.depth -= shift
            elif isinstance(entry, ast.FieldEntry):
                self.text_after(f"{key_text(entry.key)}: ", entry.value)
            elif isinstance(entry, ast.Paragraph):
                self.text_after("", entry.text)
            elif isinstance(entry, ast.Subsection):
                self.section(entry)
            else:
                self.entry_block(entry)
        self.depth -= 1

    def entry_block(self, entry: ast.EntryIf | ast.EntryFor) -> None:
        """An `if`/`for` among list items stands where its first item's level is (see the parser's
        depth rule), and its body is indented one step past that."""
        bodies = [b.body for b in entry.branches] if isinstance(entry, ast.EntryIf) else [entry.body]
        first = next((e for body in bodies for e in body if isinstance(e, ast.Item)), None)
        level = first.depth if first is not None else self.item_base
        saved_depth, saved_base = self.depth, self.item_base
        self.depth += level - self.item_base
        self.item_base = level
        if isinstance(entry, ast.EntryIf):
            self.conditional(entry.branches, self.entries, entry)
        else:
            self.emit(f"for {entry.var} in {entry.iterable.name} {{")
            self.entries(entry.body)
            self.close("}", entry)
        self.depth, self.item_base = saved_depth, saved_base

    def conditional(self, branches: tuple[Any, ...], body: Any, node: ast.Node) -> None:
        for index, branch in enumerate(branches):
            if index == 0:
                self.emit(f"if {condition_text(branch.condition)} {{")
            elif branch.condition is not None:
                self.close_inline(f"}} elif {condition_text(branch.condition)} {{", branches[index - 1])
            else:
                self.close_inline("} else {", branches[index - 1])
            body(branch.body)
        self.close("}", node)

    def close_inline(self, text: str, previous: Any) -> None:
        """`} elif ... {` / `} else {`: comments before that `}` stay in the previous branch."""
        self.depth += 1
        self.comments_before(self.close_pos(previous)[0])
        self.depth -= 1
        self.emit(text)

    def close_pos(self, node: Any) -> tuple[int, int]:
        """Where the `}` closing ``node`` is: the first `}` token after its content (nested blocks
        first consume their own)."""
        if isinstance(node, (ast.RoleIf, ast.EntryIf)):
            return self.close_pos(node.branches[-1])  # the last branch's `}` closes the whole chain
        kids = _children(node)
        if kids:
            last = kids[-1]
            after = self.close_pos(last) if _is_block(last) else _end_pos(last)
        else:
            after = (node.span.line, node.span.col)
        for pos in self.closers:
            if pos > after:
                return pos
        return (10**9, 0)

    # -- text
    def text_after(self, prefix: str, text: ast.Text) -> None:
        """``prefix`` then a string; multi-line triple-quoted strings go in block form under it."""
        lines = block_lines(text)
        if lines is None:
            literal = text.literal if text.literal.startswith(('"', 'r"')) else text.literal.rstrip()
            first, *rest = literal.split("\n")
            self.emit(prefix + first)
            self.out.extend(rest)  # kept byte for byte: a single-line string, or one we cannot re-indent
            self.trailing_comment(text.span.end_line)
            return
        opener = ("r" if text.verbatim else "") + '"""'
        self.emit(prefix + opener)
        inner = INDENT * (self.depth + 1)
        self.out.extend((inner + line) if line.strip() else "" for line in lines)
        self.emit('"""')
        self.trailing_comment(text.span.end_line)

    # -- examples, templates, config
    def examples(self, examples: ast.Examples) -> None:
        head = f"examples {examples.name}"
        source = examples.source
        if source is not None:
            head += f" from {quote(source.path)}"
            if source.k is not None:
                head += f" pick {source.k}"
            if source.balanced_by is not None:
                head += f" balanced by {source.balanced_by}"
            if source.seed is not None:
                head += f" seed {source.seed}"
        if examples.priority:
            head += f" priority {examples.priority}"
        self.emit(head + " {")
        self.trailing_comment(examples.span.line)
        self.depth += 1
        members: list[ast.ExampleSetting | ast.Record] = sorted(
            [*examples.settings, *examples.records], key=lambda n: (n.span.line, n.span.col)
        )
        for index, member in enumerate(members):
            self.node_start(member, index == 0)
            if isinstance(member, ast.ExampleSetting):
                self.text_after(f"{member.name}: ", member.value)
            else:
                self.record(member)
        self.depth -= 1
        self.close("}", examples)

    def record(self, record: ast.Record) -> None:
        """One line when it fits in MAX_WIDTH, else one field per line."""
        fields = [f"{f.name}: {value_text(f.value)}" for f in record.fields]
        one_line = "{ " + ", ".join(fields) + " }" if fields else "{}"
        if len(INDENT * self.depth + one_line) <= MAX_WIDTH:
            self.emit(one_line)
            self.trailing_comment(_end_line(record))
            return
        self.emit("{")
        self.depth += 1
        for field, node in zip(fields, record.fields, strict=True):
            self.comments_before(node.span.line)
            self.emit(field + ",")
            self.trailing_comment(_end_line(node))
        self.depth -= 1
        self.close("}", record)

    def template(self, template: ast.Template) -> None:
        if template.text is not None:
            self.text_after(f"template {template.name} ", template.text)
            return
        self.emit(f"template {template.name} {{")
        self.trailing_comment(template.span.line)
        self.depth += 1
        for index, member in enumerate(template.members):
            self.node_start(member, index == 0)
            value = member.value
            if isinstance(value, ast.Text):
                self.text_after(f"{member.key}: ", value)
            else:
                shown = f"role {value.name}" if isinstance(value, ast.RoleRef) else value.name
                self.emit(f"{member.key}: {shown}")
                self.trailing_comment(_end_line(member))
        self.depth -= 1
        self.close("}", template)

    def config(self, block: ast.ConfigBlock) -> None:
        head: str = block.kind
        if block.name is not None:
            head += f" {block.name}"
        if block.target is not None:
            head += f" for {block.target}"
        self.emit(head + " {")
        self.trailing_comment(block.span.line)
        self.depth += 1
        for index, setting in enumerate(block.settings):
            self.node_start(setting, index == 0)
            values = ", ".join(value_text(v) for v in setting.values)
            self.emit(f"{key_text(setting.key)}: {values}")
            self.trailing_comment(_end_line(setting))
        self.depth -= 1
        self.close("}", block)


# ----------------------------------------------------------------------------- spellings


def quote(text: str) -> str:
    """A double-quoted string literal whose plain value is ``text``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


#: Words the parser may read as keywords where a name can stand (such keys are written quoted).
KEYWORDS = frozenset(
    [
        "lgpt",
        "import",
        "as",
        "var",
        "role",
        "extends",
        "if",
        "elif",
        "else",
        "for",
        "in",
        "not",
        "and",
        "or",
        "true",
        "false",
        "examples",
        "from",
        "pick",
        "seed",
        "balanced",
        "by",
        "template",
        "verbalizer",
        "soft_prompt",
        "train",
    ]
)


def key_text(key: str) -> str:
    return key if _IDENT.match(key) and key not in KEYWORDS else quote(key)


def type_text(t: ast.TypeRef) -> str:
    if t.labels:
        return f"{t.name} {{" + ", ".join(key_text(label) for label in t.labels) + "}"
    if t.item is not None:
        return f"{t.name}[{type_text(t.item)}]"
    return t.name


def value_text(value: ast.Node) -> str:
    if isinstance(value, ast.StrValue):
        return quote(value.value)
    if isinstance(value, ast.NumValue):
        return value.text
    if isinstance(value, ast.BoolValue):
        return "true" if value.value else "false"
    if isinstance(value, ast.NameRef):
        return value.name
    if isinstance(value, ast.ListValue):
        return "[" + ", ".join(value_text(v) for v in value.items) + "]"
    if isinstance(value, ast.CallValue):
        args = ", ".join((f"{a.name}={value_text(a.value)}" if a.name else value_text(a.value)) for a in value.args)
        return f"{value.func}({args})"
    raise TypeError(f"not a value: {value!r}")


_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "compare": 4}


def condition_text(cond: Any, outer: int = 0) -> str:
    if isinstance(cond, ast.BoolOp):
        level = _PRECEDENCE[cond.kind]
        text = f" {cond.kind} ".join(
            condition_text(op, level + 1 if i else level) for i, op in enumerate(cond.operands)
        )
    elif isinstance(cond, ast.Not):
        level = _PRECEDENCE["not"]
        text = f"not {condition_text(cond.operand, level)}"
    elif isinstance(cond, ast.Compare):
        level = _PRECEDENCE["compare"]
        text = f"{condition_text(cond.left, level + 1)} {cond.op} {condition_text(cond.right, level + 1)}"
    else:
        return value_text(cond)
    return f"({text})" if level < outer else text


def block_lines(text: ast.Text) -> list[str] | None:
    """The lines of a multi-line triple-quoted string, ready to re-indent; None when it must be kept
    as written (single line, tabs in the indentation, or re-indenting would change its value)."""
    literal = text.literal
    prefix = "r" if text.verbatim else ""
    if not literal.startswith(prefix + '"""'):
        return None
    lines = decode_lines(literal)
    if len(lines) < 2 or any(line[: len(line) - len(line.lstrip())].count("\t") for line in lines):
        return None
    return lines


def _start_line(node: Any) -> int:
    """The first source line of a node, its annotations included."""
    notes = getattr(node, "annotations", ())
    return int(min([node.span.line, *(n.span.line for n in notes)]))


def _end_line(node: Any) -> int:
    """The last source line of anything under ``node``."""
    return _end_pos(node)[0]


def _end_pos(node: Any) -> tuple[int, int]:
    best = (0, 0)
    for span in _spans(node):
        best = max(best, (span.end_line, span.end_col))
    return best


def _spans(node: Any) -> Iterator[ast.Span]:
    if isinstance(node, ast.Span):
        yield node
    elif isinstance(node, Frozen):
        for name in node._fields:
            yield from _spans(getattr(node, name))
    elif isinstance(node, tuple):
        for item in node:
            yield from _spans(item)


def _children(node: Any) -> tuple[Any, ...]:
    """The members of a block-like node, in source order."""
    if isinstance(node, ast.Role):
        return node.members
    if isinstance(node, (ast.Section, ast.Subsection)):
        return node.body.entries if isinstance(node.body, ast.Block) else ()
    if isinstance(node, (ast.RoleIf, ast.EntryIf)):
        return node.branches
    if isinstance(node, (ast.RoleFor, ast.EntryFor, ast.MemberBranch, ast.EntryBranch)):
        return node.body
    if isinstance(node, ast.Examples):
        return tuple(sorted([*node.settings, *node.records], key=lambda n: (n.span.line, n.span.col)))
    if isinstance(node, ast.Template):
        return node.members
    if isinstance(node, ast.ConfigBlock):
        return node.settings
    if isinstance(node, ast.Record):
        return node.fields
    return ()


def _is_block(node: Any) -> bool:
    if isinstance(node, (ast.Section, ast.Subsection)):
        return isinstance(node.body, ast.Block)
    return isinstance(
        node,
        (
            ast.Role,
            ast.RoleIf,
            ast.EntryIf,
            ast.RoleFor,
            ast.EntryFor,
            ast.MemberBranch,
            ast.EntryBranch,
            ast.Examples,
            ast.ConfigBlock,
            ast.Record,
        ),
    ) or (isinstance(node, ast.Template) and node.text is None)
