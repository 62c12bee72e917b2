"""The typed AST of a .lgpt file.

Every node is a frozen, typed record (``langgpt.records.Frozen``) carrying the source span it came
from, so later passes can point at the exact place a problem lives. Every node has a ``kind`` tag, and
the whole tree round-trips through JSON with pydantic validation (``Document.model_dump_json()`` /
``Document.model_validate_json()``).
"""

from __future__ import annotations

from typing import Literal

from langgpt.records import Frozen


class Span(Frozen):
    """A 1-based, end-exclusive region of a source file."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int


class Node(Frozen):
    span: Span


# ----------------------------------------------------------------------------- conditions and values


class NameRef(Node):
    """A (possibly dotted) name used as a value or condition operand: ``lang``, ``tone.Base``."""

    kind: Literal["name"] = "name"
    name: str


class StrValue(Node):
    kind: Literal["str"] = "str"
    value: str


class NumValue(Node):
    kind: Literal["num"] = "num"
    value: int | float
    text: str


class BoolValue(Node):
    kind: Literal["bool"] = "bool"
    value: bool


class ListValue(Node):
    kind: Literal["list"] = "list"
    items: tuple[Value, ...]


class Argument(Node):
    kind: Literal["arg"] = "arg"
    name: str | None
    value: Value


class CallValue(Node):
    """``text(Analyst)``, ``random(seed=3)``: a structured setting, never a host function call."""

    kind: Literal["call"] = "call"
    func: str
    args: tuple[Argument, ...]


Value = NameRef | StrValue | NumValue | BoolValue | ListValue | CallValue


class Not(Node):
    kind: Literal["not"] = "not"
    operand: Condition


class BoolOp(Node):
    kind: Literal["and", "or"]
    operands: tuple[Condition, ...]


CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]
ConfigKind = Literal["verbalizer", "soft_prompt", "train"]


class Compare(Node):
    kind: Literal["compare"] = "compare"
    op: CompareOp
    left: Condition
    right: Condition


Condition = NameRef | StrValue | NumValue | BoolValue | Not | BoolOp | Compare


# ----------------------------------------------------------------------------- text with interpolation


class TextSeg(Node):
    kind: Literal["text"] = "text"
    text: str


class InterpSeg(Node):
    """``{name}`` or ``{name.field}``."""

    kind: Literal["interp"] = "interp"
    name: str


class RefSeg(Node):
    """A LangGPT-style reference to a section or profile field: ``<Rules>``."""

    kind: Literal["ref"] = "ref"
    name: str


class SegBranch(Node):
    kind: Literal["seg_branch"] = "seg_branch"
    condition: Condition | None
    body: tuple[Segment, ...]


class IfSeg(Node):
    """``{if cond}...{elif cond}...{else}...{end}`` inside a string."""

    kind: Literal["if"] = "if"
    branches: tuple[SegBranch, ...]


class ForSeg(Node):
    """``{for x in xs}...{end}`` inside a string."""

    kind: Literal["for"] = "for"
    var: str
    iterable: str
    body: tuple[Segment, ...]


Segment = TextSeg | InterpSeg | RefSeg | IfSeg | ForSeg


class Text(Node):
    """A string literal after escapes and dedent, split into segments.

    ``literal`` is the exact source spelling (kept for the formatter); ``verbatim`` strings have no
    interpolation, references or escapes.
    """

    kind: Literal["textlit"] = "textlit"
    segments: tuple[Segment, ...]
    literal: str
    verbatim: bool = False


# ----------------------------------------------------------------------------- role bodies


class Item(Node):
    """A list item: ``- text`` or ``1. text``; ``depth`` comes from its indentation."""

    kind: Literal["item"] = "item"
    marker: str
    depth: int
    text: Text


class FieldEntry(Node):
    """``key: value`` inside a section block (profile fields, commands)."""

    kind: Literal["field"] = "field"
    key: str
    value: Text


class Paragraph(Node):
    kind: Literal["paragraph"] = "paragraph"
    text: Text


class Block(Node):
    kind: Literal["block"] = "block"
    entries: tuple[Entry, ...]


class Subsection(Node):
    kind: Literal["subsection"] = "subsection"
    name: str
    title: str | None
    body: Block | Text
    annotations: tuple[CallValue, ...] = ()


class EntryBranch(Node):
    kind: Literal["entry_branch"] = "entry_branch"
    condition: Condition | None
    body: tuple[Entry, ...]


class EntryIf(Node):
    kind: Literal["entry_if"] = "entry_if"
    branches: tuple[EntryBranch, ...]


class EntryFor(Node):
    kind: Literal["entry_for"] = "entry_for"
    var: str
    iterable: NameRef
    body: tuple[Entry, ...]


Entry = Item | FieldEntry | Paragraph | Subsection | EntryIf | EntryFor


class Section(Node):
    """A role section. ``name`` is as written; ``canonical`` is the known LangGPT section it denotes
    (``rules`` for ``Rules``, ``constraints``, ``规则`` ...) or None for a custom section."""

    kind: Literal["section"] = "section"
    name: str
    canonical: str | None
    title: str | None
    append: bool
    body: Block | Text
    annotations: tuple[CallValue, ...] = ()


class MemberBranch(Node):
    kind: Literal["member_branch"] = "member_branch"
    condition: Condition | None
    body: tuple[RoleMember, ...]


class RoleIf(Node):
    kind: Literal["role_if"] = "role_if"
    branches: tuple[MemberBranch, ...]


class RoleFor(Node):
    kind: Literal["role_for"] = "role_for"
    var: str
    iterable: NameRef
    body: tuple[RoleMember, ...]


RoleMember = Section | RoleIf | RoleFor


# ----------------------------------------------------------------------------- declarations


class TypeRef(Node):
    kind: Literal["type"] = "type"
    name: str
    labels: tuple[str, ...] = ()
    item: TypeRef | None = None

    def describe(self) -> str:
        if self.name == "label":
            return "label {" + ", ".join(self.labels) + "}"
        if self.name == "list" and self.item is not None:
            return f"list[{self.item.describe()}]"
        return self.name


class Header(Node):
    kind: Literal["header"] = "header"
    version: int


class Import(Node):
    kind: Literal["import"] = "import"
    path: str
    alias: str | None


class VarDecl(Node):
    kind: Literal["var"] = "var"
    name: str
    type: TypeRef
    default: Value | None
    description: str | None
    truncate: str | None = None  # head | tail: which end a token budget may cut


class Role(Node):
    kind: Literal["role"] = "role"
    name: str
    title: str | None
    extends: NameRef | None
    members: tuple[RoleMember, ...]
    annotations: tuple[CallValue, ...] = ()


class ExampleSource(Node):
    kind: Literal["example_source"] = "example_source"
    path: str
    k: int | None
    seed: int | None
    balanced_by: str | None


class RecordField(Node):
    kind: Literal["record_field"] = "record_field"
    name: str
    value: Value


class Record(Node):
    kind: Literal["record"] = "record"
    fields: tuple[RecordField, ...]


class ExampleSetting(Node):
    kind: Literal["example_setting"] = "example_setting"
    name: str
    value: Text


class Examples(Node):
    kind: Literal["examples"] = "examples"
    name: str
    source: ExampleSource | None
    settings: tuple[ExampleSetting, ...]
    records: tuple[Record, ...]
    priority: int = 0  # under a token budget, lower priorities lose their shots first


class RoleRef(Node):
    """``system: role Analyst``: the compiled text of a role."""

    kind: Literal["role_ref"] = "role_ref"
    name: str


class TemplateMember(Node):
    kind: Literal["template_member"] = "template_member"
    key: str
    value: Text | RoleRef | NameRef


class Template(Node):
    kind: Literal["template"] = "template"
    name: str
    text: Text | None
    members: tuple[TemplateMember, ...]


class Setting(Node):
    kind: Literal["setting"] = "setting"
    key: str
    values: tuple[Value, ...]


class ConfigBlock(Node):
    """``verbalizer``, ``soft_prompt`` and ``train`` blocks: typed settings, compiled by later targets."""

    kind: ConfigKind
    name: str | None
    target: str | None
    settings: tuple[Setting, ...]


Decl = Import | VarDecl | Role | Examples | Template | ConfigBlock


class Comment(Node):
    kind: Literal["comment"] = "comment"
    text: str


class Document(Node):
    """One parsed .lgpt file."""

    kind: Literal["document"] = "document"
    path: str
    header: Header | None
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = ()

    def roles(self) -> tuple[Role, ...]:
        return tuple(d for d in self.decls if isinstance(d, Role))

    def templates(self) -> tuple[Template, ...]:
        return tuple(d for d in self.decls if isinstance(d, Template))

    def variables(self) -> tuple[VarDecl, ...]:
        return tuple(d for d in self.decls if isinstance(d, VarDecl))

    def example_sets(self) -> tuple[Examples, ...]:
        return tuple(d for d in self.decls if isinstance(d, Examples))

    def imports(self) -> tuple[Import, ...]:
        return tuple(d for d in self.decls if isinstance(d, Import))

    def configs(self) -> tuple[ConfigBlock, ...]:
        return tuple(d for d in self.decls if isinstance(d, ConfigBlock))
