"""LangGPT role objects (JSON / YAML) -> .lgpt.

The input is a LangGPT role object, ``{"Role": {"name": ..., "Profile": {...}, "Rules": [...], ...}}``,
a list of them, ``{"Roles": [...]}``, or a role object without the ``Role`` wrapper. ``name`` names
the role; every other key becomes a section, written in the form the ``json`` / ``yaml`` targets
(``langgpt.targets.structured``) read back as the same value:

| value | .lgpt | compiles back to |
| --- | --- | --- |
| string | prose, a verbatim string where it can be one | the string |
| mapping | ``Key: text`` fields for texts, ``Key { ... }`` subsections for lists and mappings | the mapping |
| list | ``- text`` items; ``{"Name": [...]}`` as ``- Name`` with nested items under it; other one-key mappings as fields or subsections | the list |
| number, true / false | their text | a string (json); the number / boolean (yaml) |

Section names are the keys when they are names (``Rules``, ``规则``); other keys get a name and keep
the key as the section's title (``custom_1 "Output Format"``). Values with no exact equivalent (a
mapping with several keys inside a list, a list of lists, null) are kept as verbatim text and
reported with W302; everything else that was inferred is reported with I301, at the input's line.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import json.decoder
import re
from collections.abc import Callable
from typing import Any

from langgpt.ast import Span
from langgpt.errors import Diagnostic, DiagnosticError, LgptError, UsageError
from langgpt.fmt import FormatError, format_source, key_text, quote
from langgpt.importers import ImportResult
from langgpt.sections import canonical, humanize, misspelling_of, section_key, title_for
from langgpt.targets.structured import yaml_scalar

_IDENT = re.compile(r"[^\W\d]\w*\Z")
_NON_WORD = re.compile(r"\W+")
#: Names kept away from names and field keys: `if` / `for` start a conditional or loop in a role body,
#: and the rest are keywords somewhere; a key spelled like one becomes a title instead.
_KEYWORDS = frozenset(
    {
        *("lgpt", "import", "as", "var", "role", "extends", "examples", "from", "pick", "seed", "balanced", "by"),
        *("template", "verbalizer", "soft_prompt", "train", "for", "in", "if", "elif", "else", "and", "or", "not"),
        *("true", "false"),
    }
)
_INDENT = "  "
_EXPECTED = 'a LangGPT role object {"Role": {"name": ..., ...}}, a list of them, or {"Roles": [...]}'

Path = tuple[str | int, ...]
#: How deeply lists and mappings may nest: far beyond any prompt, and well inside what the parser and
#: checks can take as nested subsections.
MAX_DEPTH = 30  # each level can become a nested block, and .lgpt allows 64 (parser.MAX_NESTING)


class _Number(str):
    """A JSON number (or NaN / Infinity), kept as written."""

    __slots__ = ()


def import_text(text: str, path: str, fmt: str) -> ImportResult:
    """Turn a LangGPT role object (``fmt`` is ``json`` or ``yaml``) into .lgpt source."""
    if fmt not in ("json", "yaml"):
        raise UsageError(f"the structured importer reads json or yaml, not `{fmt}`")
    text = text.removeprefix("\ufeff")
    reader = _read_json if fmt == "json" else _read_yaml
    try:
        data, where, notes = reader(text, path)
        if _too_deep(data):
            raise RecursionError
        builder = _Builder(path, fmt, where, notes)
        roles = _role_objects(data, path, where)
        sources = [builder.role(obj, at, wrapped) for obj, at, wrapped in roles]
    except RecursionError:
        raise DiagnosticError(
            [
                Diagnostic(
                    "E301",
                    f"the input nests lists and mappings more than {MAX_DEPTH} levels deep",
                    _span(path, 1, 1),
                    _EXPECTED,
                )
            ]
        ) from None
    if len(roles) > 1:
        names = ", ".join(builder.names)
        builder.note("I301", f"a collection of {len(roles)} roles ({names}): compile one with --entry NAME", ())
    source = "lgpt 1\n\n" + "\n\n".join(sources) + "\n"
    try:
        formatted = format_source(source, f"<imported {path}>")
    except DiagnosticError as exc:
        # a limit of the language (a value over the line-length limit, nesting): the input's size, reported
        first = exc.diagnostics[0]
        at = Span(file=path, line=1, col=1, end_line=1, end_col=2)
        raise DiagnosticError(
            [Diagnostic("E301", f"{path} cannot be imported: {first.message}", at, first.expected, first.hint)]
        ) from None
    except FormatError as exc:  # pragma: no cover - a bug, never the input's fault
        raise LgptError(f"the structured importer wrote invalid .lgpt for {path}: {exc}") from None
    return ImportResult(formatted, tuple(builder.notes))


# ----------------------------------------------------------------------------- reading the input


def _too_deep(data: Any) -> bool:
    level: list[Any] = [data]
    for _ in range(MAX_DEPTH + 1):
        level = [c for v in level for c in (v.values() if isinstance(v, dict) else v if isinstance(v, list) else ())]
        if not level:
            return False
    return True


class _Where:
    """Input positions: (line, col) of each mapping key / list element, by its path of keys and indices."""

    def __init__(self, path: str, positions: dict[Path, tuple[int, int, int]]) -> None:
        self.path = path
        self.positions = positions  # path -> (line, col, width)

    def span(self, at: Path) -> Span | None:
        while at not in self.positions and at:
            at = at[:-1]
        if at not in self.positions:
            return None
        line, col, width = self.positions[at]
        return Span(file=self.path, line=line, col=col, end_line=line, end_col=col + max(width, 1))


def _span(path: str, line: int, col: int, width: int = 1) -> Span:
    return Span(file=path, line=line, col=col, end_line=line, end_col=col + width)


def _read_json(text: str, path: str) -> tuple[Any, _Where, list[Diagnostic]]:
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                duplicates.append(key)
            out[key] = value
        return out

    try:
        data = json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_Number, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise DiagnosticError(
            [
                Diagnostic(
                    "E301",
                    f"invalid JSON: {exc.msg}",
                    _span(path, exc.lineno, exc.colno),
                    _EXPECTED,
                    "fix the JSON syntax at this position",
                )
            ]
        ) from None
    where = _Where(path, _json_positions(text))
    notes = [
        Diagnostic(
            "W302",
            f"key `{key}` appears more than once in one object; only its last value is imported",
            _last_key_span(text, path, key),
        )
        for key in dict.fromkeys(duplicates)
    ]
    return data, where, notes


def _last_key_span(text: str, path: str, key: str) -> Span | None:
    found = [m.start() for m in re.finditer(re.escape(json.dumps(key, ensure_ascii=False)) + r"\s*:", text)]
    if not found:
        return None
    line, col = _line_col(text, found[-1])
    return _span(path, line, col, len(json.dumps(key, ensure_ascii=False)))


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


_WS = re.compile(r"[ \t\n\r]*")
_ATOM = re.compile(r"-?(?:\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|-?Infinity")
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _json_positions(text: str) -> dict[Path, tuple[int, int, int]]:
    """Where each key and list element of (already valid) JSON text starts. Best effort: positions
    only feed the notes, so a failure just leaves them out."""
    offsets: dict[Path, tuple[int, int]] = {}

    def skip(i: int) -> int:
        match = _WS.match(text, i)
        return match.end() if match else i

    def value(i: int, at: Path) -> int:
        i = skip(i)
        offsets.setdefault(at, (i, 1))
        if text[i] == "{":
            i = skip(i + 1)
            while text[i] != "}":
                key, end = _scanstring(text, i + 1)
                offsets[(*at, key)] = (i, end - i)
                i = skip(value(skip(end) + 1, (*at, key)))  # past the ':' and the value
                i = skip(i + 1) if text[i] == "," else i
            return i + 1
        if text[i] == "[":
            i, index = skip(i + 1), 0
            while text[i] != "]":
                i = skip(value(i, (*at, index)))
                i = skip(i + 1) if text[i] == "," else i
                index += 1
            return i + 1
        if text[i] == '"':
            return _scanstring(text, i + 1)[1]
        match = _ATOM.match(text, i)
        if match is None:
            raise ValueError(i)
        return match.end()

    with contextlib.suppress(ValueError, IndexError, RecursionError):
        value(0, ())
    starts = [i for i, ch in enumerate(text) if ch == "\n"]
    out: dict[Path, tuple[int, int, int]] = {}
    for at, (offset, width) in offsets.items():
        line = bisect.bisect_left(starts, offset) + 1
        col = offset - (starts[line - 2] + 1 if line > 1 else 0) + 1
        out[at] = (line, col, width)
    return out


def _read_yaml(text: str, path: str) -> tuple[Any, _Where, list[Diagnostic]]:
    import yaml

    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # node positions only: nothing is constructed
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
        raise DiagnosticError(
            [Diagnostic("E301", message, _span(path, line, col), _EXPECTED, "fix the YAML syntax at this position")]
        ) from None
    positions: dict[Path, tuple[int, int, int]] = {}

    notes: list[Diagnostic] = []

    def walk(node: Any, at: Path) -> None:
        positions.setdefault(at, (node.start_mark.line + 1, node.start_mark.column + 1, 1))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, child in node.value:
                if isinstance(key, yaml.ScalarNode):
                    mark = key.start_mark
                    if key.value in seen:
                        notes.append(
                            Diagnostic(
                                "W302",
                                f"key `{key.value}` appears more than once in one mapping; only its last value is imported",
                                _span(path, mark.line + 1, mark.column + 1, len(key.value)),
                            )
                        )
                    seen.add(key.value)
                    positions[(*at, key.value)] = (mark.line + 1, mark.column + 1, len(key.value))
                    walk(child, (*at, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, child in enumerate(node.value):
                walk(child, (*at, index))

    if root is not None:
        walk(root, ())
    return data, _Where(path, positions), notes


def _shape_error(message: str, span: Span | None, path: str) -> DiagnosticError:
    return DiagnosticError(
        [
            Diagnostic(
                "E301",
                message,
                span or _span(path, 1, 1),
                _EXPECTED,
                'wrap the role in {"Role": {...}}, or list several roles in {"Roles": [...]}',
            )
        ]
    )


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (an empty document or null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (_Number, int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _role_objects(data: Any, path: str, where: _Where) -> list[tuple[dict[Any, Any], Path, bool]]:
    """The role objects of the input: (object, its path, whether it had the ``Role`` wrapper)."""
    items: list[tuple[Any, Path]]
    if isinstance(data, list):
        items = [(obj, (i,)) for i, obj in enumerate(data)]
    elif isinstance(data, dict) and list(data) == ["Roles"]:
        if not isinstance(data["Roles"], list):
            raise _shape_error(
                f"`Roles` must hold a list of role objects, not {_kind(data['Roles'])}", where.span(("Roles",)), path
            )
        items = [(obj, ("Roles", i)) for i, obj in enumerate(data["Roles"])]
    elif isinstance(data, dict):
        items = [(data, ())]
    else:
        raise _shape_error(f"expected a role object, got {_kind(data)}", where.span(()), path)
    if not items:
        raise _shape_error("the list holds no role objects", where.span(()), path)
    out: list[tuple[dict[Any, Any], Path, bool]] = []
    for obj, at in items:
        if not isinstance(obj, dict):
            raise _shape_error(f"item {at[-1]} of the list is {_kind(obj)}, not a role object", where.span(at), path)
        # `Role` beside `name` is a section of a role object written without the wrapper
        if "Role" in obj and "name" not in obj and (isinstance(obj["Role"], dict) or len(obj) == 1):
            if not isinstance(obj["Role"], dict):
                raise _shape_error(
                    f"`Role` must hold the role object (a mapping), not {_kind(obj['Role'])}",
                    where.span((*at, "Role")),
                    path,
                )
            if len(obj) > 1:
                others = ", ".join(f"`{k}`" for k in obj if k != "Role")
                raise _shape_error(
                    f"`Role` has other keys beside it ({others}); they belong inside the role object",
                    where.span((*at, next(k for k in obj if k != "Role"))),
                    path,
                )
            out.append((obj["Role"], (*at, "Role"), True))
        else:
            out.append((obj, at, False))
    return out


# ----------------------------------------------------------------------------- writing .lgpt


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _item_tree(value: Any) -> bool:
    """Whether a list element can be a (nested) item: a scalar, or ``{"text": [item, ...]}``."""
    if _is_scalar(value):
        return True
    if isinstance(value, dict) and len(value) == 1:
        child = next(iter(value.values()))
        return isinstance(child, list) and bool(child) and all(_item_tree(c) for c in child)
    return False


def _field_title(key: str) -> str:
    """How the renderer prints a field key (lower-case ASCII keys are capitalised)."""
    return humanize(key) if key.isascii() and key == key.lower() else key


def _field_ok(key: str, seen: set[str]) -> bool:
    """A field keeps ``key`` exactly: it prints as written and is not a second field of that key."""
    return key not in _KEYWORDS and _field_title(key) == key and key.lower() not in seen


def _derived_name(text: str) -> str:
    return _NON_WORD.sub("", text)


def _unquoted_ok(text: str) -> bool:
    """Whether ``text`` can be written as unquoted item / field text and read back unchanged."""
    return (
        bool(text)
        and text == text.strip()
        and len(text.splitlines()) == 1
        and "\r" not in text
        and text[0] not in '"#'
        and not text.startswith('r"')
        and not any(ch in text for ch in "\\{<")
    )


def _escaped(text: str) -> str:
    """Text for a non-verbatim string: escapes, and no interpolation, tags or references."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("{", "\\{").replace("<", "\\<")


def _block_ok(text: str) -> bool:
    """Whether a triple-quoted string written as a block (its lines under the opening quotes) reads
    back as exactly ``text``: the dedent must remove nothing and keep every line."""
    if "\r" in text:
        return False
    lines = text.split("\n")
    solid = [line for line in lines if line.strip()]
    if not solid or any(line and not line.strip() for line in lines):
        return False
    return min(len(line) - len(line.lstrip(" \t")) for line in solid) == 0


def literal(text: str, unquoted: bool = False) -> str:
    """The .lgpt spelling of a text that renders back byte for byte: unquoted item / field text
    (``unquoted``) when it is plain, a verbatim string where possible, else an escaped one."""
    if unquoted and _unquoted_ok(text):
        return text
    if "\n" in text and _block_ok(text):
        if '"""' not in text:
            return 'r"""\n' + text + '\n"""'
        return '"""\n' + _escaped(text) + '\n"""'
    if "\n" not in text and '"' not in text:
        return f'r"{text}"'
    return '"' + _escaped(text).replace("\n", "\\n").replace("\t", "\\t") + '"'


def _decoded(spelled: str) -> str:
    """The text a string literal written by ``literal`` renders as (it holds no tags)."""
    from langgpt.strings import decode

    def no_condition(text: str, span: Span) -> Any:  # pragma: no cover - `{` is always escaped
        raise AssertionError(text)

    kind = ("RAW_" if spelled.startswith("r") else "") + ("LONG_STRING" if '"""' in spelled[:4] else "STRING")
    node = decode(kind, spelled, "<literal>", 1, 1, no_condition)
    return "".join(getattr(seg, "text", "") for seg in node.segments)


class _Builder:
    def __init__(self, path: str, fmt: str, where: _Where, notes: list[Diagnostic]) -> None:
        self.path = path
        self.fmt = fmt
        self.where = where
        self.notes = notes
        self.names: list[str] = []

    def note(self, code: str, message: str, at: Path) -> None:
        self.notes.append(Diagnostic(code, message, self.where.span(at)))

    # -- roles and sections
    def role(self, obj: dict[Any, Any], at: Path, wrapped: bool) -> str:
        name, title = self.role_name(obj, at)
        head = f"role {name}" + (f" {quote(title)}" if title is not None else "")
        lines = [head + " {"]
        used: set[str] = set()
        keys = [k for k in obj if k != "name"]
        for index, raw_key in enumerate(keys):
            key = self.key(raw_key, (*at, str(raw_key)))
            section, section_title = self.section_name(key, used, last=index == len(keys) - 1)
            spelled = section + (f" {quote(section_title)}" if section_title is not None else "")
            here = (*at, key)
            value = obj[raw_key]
            lines.extend(self.body(section, section_title, value, here, 1, sub=False))
            self.note("I301", f"{_shown(here)} -> section `{spelled}`: {_describe(value)}", here)
        lines.append("}")
        shown = f"role `{name}`" + (
            f" titled {quote(title)} (the name is not a .lgpt name)" if title is not None else ""
        )
        how = "" if wrapped else " (no `Role` wrapper: the json/yaml targets add one)"
        self.note("I301", f"{_shown(at)} -> {shown}{how}", (*at, "name") if "name" in obj else at)
        return "\n".join(lines)

    def role_name(self, obj: dict[Any, Any], at: Path) -> tuple[str, str | None]:
        raw = obj.get("name")
        text = None
        if "name" in obj:
            text = self.scalar_text(raw, (*at, "name")) if _is_scalar(raw) else _json_text(raw)
        if "name" in obj and not _is_scalar(raw):
            self.note("W302", f"{_shown((*at, 'name'))} is not a text; it is kept as the role's title", (*at, "name"))
        base = _derived_name(text) if text else ""
        if not base:
            base = "Role"
        elif not _IDENT.match(base):
            base = "Role_" + base
        if base in _KEYWORDS:
            base += "_"
        name, n = base, 2
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.append(name)
        if not text:
            what = "an empty `name`" if text == "" else "no `name`"
            self.note("W302", f"{_shown(at)} has {what}; the role is called `{name}`", at)
            return name, None
        if text != name:
            return name, text
        return name, None

    def section_name(self, key: str, used: set[str], last: bool) -> tuple[str, str | None]:
        """A section name for a role-object key (and the title it needs to print as the key): the
        key itself when it is a name, its known section otherwise (``Output Format``), else
        ``custom_N``. An Initialization that is not last gets ``custom_N`` too, because the renderer
        keeps a real one last."""
        known = canonical(key)
        candidates = []
        if _IDENT.match(key) and key not in _KEYWORDS and misspelling_of(key) is None:
            candidates.append(key)
        elif known is not None:
            candidates.append(known)
        for name in candidates:
            if canonical(name) == "initialization" and not last:
                continue
            identity = section_key(name, canonical(name))
            if identity not in used:
                used.add(identity)
                return name, None if title_for(name, canonical(name), None) == key else key
        n = 1
        while section_key(f"custom_{n}", None) in used or canonical(f"custom_{n}") is not None:
            n += 1
        used.add(section_key(f"custom_{n}", None))
        return f"custom_{n}", key

    # -- bodies
    def body(self, name: str, title: str | None, value: Any, at: Path, depth: int, sub: bool = True) -> list[str]:
        """A section or subsection (``name``, ``title``) with the body that gives back ``value``.
        A prose subsection always spells its title: in ``Name "text"`` followed by an entry that
        starts with a string (``"key": ...``), that string would be read as the body."""
        indent = _INDENT * depth
        head = name + (f" {quote(title)}" if title is not None else "")
        if isinstance(value, dict):
            if not value:
                self.note(
                    "W302", f"{_shown(at)}: an empty mapping is written as an empty block; it compiles back to []", at
                )
            return [indent + head + " {", *self.mapping(value, at, depth + 1), indent + "}"]
        if isinstance(value, list):
            entries = self.list_entries(value, at, depth + 1)
            if entries is not None:
                return [indent + head + " {", *entries, indent + "}"]
            self.note(
                "W302",
                f"{_shown(at)}: a list made only of one-key mappings would read back as one mapping; it is kept as verbatim JSON text",
                at,
            )
            text = _json_text(value)
        else:
            text = self.scalar_text(value, at)
        if sub and title is None:
            head = f"{name} {quote(_field_title(name))}"
        return [indent + head + " " + self.literal(text, at)]

    def mapping(self, value: dict[Any, Any], at: Path, depth: int) -> list[str]:
        lines: list[str] = []
        seen: set[str] = set()
        for raw_key, child in value.items():
            key = self.key(raw_key, (*at, str(raw_key)))
            here = (*at, key)
            if key == "" and not _is_scalar(child):  # a subsection needs a title: keep the text in a field
                self.note(
                    "W302", f"{_shown(here)}: a list or mapping under an empty key is kept as verbatim JSON text", here
                )
                lines.append(_INDENT * depth + f'"": {literal(_json_text(child), True)}')
            else:
                lines.extend(self.pair(key, child, here, depth, seen))
        return lines

    def pair(self, key: str, value: Any, at: Path, depth: int, seen: set[str]) -> list[str]:
        """One key of a mapping: a field for a text, else (or when a field would not keep the key)
        a subsection."""
        if _is_scalar(value) and _field_ok(key, seen):
            seen.add(key.lower())
            return [_INDENT * depth + f"{key_text(key)}: {self.literal(self.scalar_text(value, at), at, True)}"]
        if _is_scalar(value):
            if key in _KEYWORDS:
                why = f"`{key}` cannot be a field key"
            elif key.lower() in seen:
                why = "a second field with this key (ignoring case) is not allowed"
            else:
                why = f"a field would print the key as `{_field_title(key)}`"
            self.note("I301", f"{_shown(at)}: {why}, so it is a subsection", at)
        return self.body(*self.subsection_head(key), value, at, depth)

    def subsection_head(self, key: str) -> tuple[str, str | None]:
        """A subsection's name, and the title it needs to print as ``key``."""
        if _IDENT.match(key) and key not in _KEYWORDS and _field_title(key) == key:
            return key, None
        name = _derived_name(key)
        if not _IDENT.match(name) or name in _KEYWORDS:
            name = "sub_" + name if _IDENT.match("sub_" + name) else "sub"
        return name, key

    def list_entries(self, value: list[Any], at: Path, depth: int) -> list[str] | None:
        """Entries that read back as the list ``value``, or None when that is impossible: a list
        made only of fields and subsections reads back as a mapping."""
        one_key = [isinstance(v, dict) and len(v) == 1 and not _item_tree(v) for v in value]
        if value and all(one_key):
            return None
        lines: list[str] = []
        seen: set[str] = set()
        for index, element in enumerate(value):
            here = (*at, index)
            if _item_tree(element):
                lines.extend(self.items(element, here, depth))
            elif one_key[index]:
                raw_key, child = next(iter(element.items()))
                key = self.key(raw_key, (*here, str(raw_key)))
                if key == "" and not _is_scalar(child):
                    self.note(
                        "W302",
                        f"{_shown(here)}: a list or mapping under an empty key is kept as verbatim JSON text",
                        here,
                    )
                    lines.append(_INDENT * depth + "- " + literal(_json_text(element), True))
                else:
                    lines.extend(self.pair(key, child, (*here, key), depth, seen))
            else:
                what = "a list" if isinstance(element, list) else "a mapping with several keys or none"
                self.note(
                    "W302",
                    f"{_shown(here)}: {what} inside a list has no .lgpt form; it is kept as verbatim JSON text",
                    here,
                )
                lines.append(_INDENT * depth + "- " + literal(_json_text(element), True))
        return lines

    def items(self, element: Any, at: Path, depth: int) -> list[str]:
        indent = _INDENT * depth
        if _is_scalar(element):
            return [indent + "- " + self.literal(self.scalar_text(element, at), at, True)]
        key, children = next(iter(element.items()))
        text = self.key(key, (*at, str(key)))
        lines = [indent + "- " + self.literal(text, at, True)]
        for index, child in enumerate(children):
            lines.extend(self.items(child, (*at, text, index), depth + 1))
        return lines

    # -- scalars
    def literal(self, text: str, at: Path, unquoted: bool = False) -> str:
        spelled = literal(text, unquoted)
        if "\r" in text and _decoded(spelled) != text:
            self.note("W302", f"{_shown(at)}: a carriage return at the end of a line cannot be kept", at)
        return spelled

    def key(self, key: Any, at: Path) -> str:
        if isinstance(key, str) and not isinstance(key, _Number):
            return key
        text = self.scalar_text(key, at, quiet=True)
        self.note("W302", f"{_shown(at)}: the key {text} is not a string; it is kept as the text `{text}`", at)
        return text

    def scalar_text(self, value: Any, at: Path, quiet: bool = False) -> str:
        """The text a scalar is written as, noting what will not come back as it was."""
        if isinstance(value, _Number):
            if not quiet:
                self.note(
                    "W302",
                    f"{_shown(at)}: the number {value} is kept as text; the json target writes it as a string",
                    at,
                )
            return str(value)
        if isinstance(value, str):
            if self.fmt == "yaml" and not quiet and not isinstance(yaml_scalar(value), str):
                self.note(
                    "W302",
                    f"{_shown(at)}: the string `{value}` reads as a YAML scalar; the yaml target writes it unquoted",
                    at,
                )
            return value
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, float):
            text = repr(value)
        elif value is None:
            if not quiet:
                self.note("W302", f"{_shown(at)}: null is kept as an empty text", at)
            return ""
        else:
            if not quiet:
                self.note("W302", f"{_shown(at)}: the {type(value).__name__} value is kept as its text", at)
            return str(value)
        if quiet:
            return text
        if self.fmt == "json":
            self.note("W302", f"{_shown(at)}: {text} is kept as text; the json target writes it as a string", at)
        elif yaml_scalar(text) == value:
            self.note(
                "I301",
                f"{_shown(at)}: {text} is kept as text; the yaml target writes it back as a {_kind(value)[2:]}",
                at,
            )
        else:
            self.note("W302", f"{_shown(at)}: {text} is kept as text; the yaml target writes it as a string", at)
        return text


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return f"a mapping of {len(value)} key(s)"
    if isinstance(value, list):
        return f"a list of {len(value)} element(s)"
    return "prose"


def _shown(at: Path) -> str:
    """A path of keys and indices as ``Role.Profile.Skills[0]``."""
    out = ""
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return f"`{out}`" if out else "the document"


def _json_text(value: Any) -> str:
    """A value as compact JSON text (the verbatim fallback); JSON numbers as they were written."""

    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(c) for k, c in v.items()}
        if isinstance(v, list):
            return [plain(c) for c in v]
        return json.loads(v) if isinstance(v, _Number) else v

    return json.dumps(plain(value), ensure_ascii=False, default=str)
