"""Variable types and values: checking defaults, and coercing values given on the command line or in
a vars file to the declared type. Values are plain Python data (str, int, float, bool, list)."""

from __future__ import annotations

import json
from typing import Any

from langgpt import ast

SCALARS = ("text", "int", "float", "bool")
TYPE_NAMES = (*SCALARS, "label", "list")

VarValue = Any  # str | int | float | bool | list[VarValue]


class ValueTypeError(ValueError):
    """A value does not fit a type; the message says what was expected."""


def type_problem(t: ast.TypeRef) -> str | None:
    """Why a type expression is invalid, or None."""
    if t.name not in TYPE_NAMES:
        return f"unknown type `{t.name}`"
    if t.name == "label" and not t.labels:
        return "`label` needs its names: label {a, b}"
    if t.name != "label" and t.labels:
        return f"`{t.name}` takes no label names"
    if t.name == "list" and t.item is None:
        return "`list` needs an item type: list[text]"
    if t.item is not None:
        return type_problem(t.item)
    return None


def literal_value(value: ast.Value) -> VarValue:
    """The Python value of a literal in the source (names stand for themselves, e.g. label words)."""
    if isinstance(value, (ast.StrValue, ast.NumValue, ast.BoolValue)):
        return value.value
    if isinstance(value, ast.NameRef):
        return value.name
    if isinstance(value, ast.ListValue):
        return [literal_value(v) for v in value.items]
    raise ValueTypeError("a call is not a value here")


def check_value(value: VarValue, t: ast.TypeRef) -> VarValue:
    """Validate a Python value against a type; returns it normalised (int -> float for float, label
    index -> label name). Raises ValueTypeError."""
    name = t.name
    if name == "text":
        if isinstance(value, str):
            return value
        raise ValueTypeError(f"text (a string), got {_show(value)}")
    if name == "bool":
        if isinstance(value, bool):
            return value
        raise ValueTypeError(f"bool (true or false), got {_show(value)}")
    if name == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueTypeError(f"int, got {_show(value)}")
    if name == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueTypeError(f"float, got {_show(value)}")
    if name == "label":
        return _label(value, t.labels)
    if name == "list" and t.item is not None:
        if not isinstance(value, list):
            raise ValueTypeError(f"{t.describe()} (a list), got {_show(value)}")
        return [check_value(v, t.item) for v in value]
    raise ValueTypeError(f"unknown type {name}")


def _label(value: VarValue, labels: tuple[str, ...]) -> str:
    if isinstance(value, str) and value in labels:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(labels):
        return labels[value]
    if isinstance(value, str) and value.isdigit() and int(value) < len(labels):
        return labels[int(value)]
    choices = ", ".join(labels)
    raise ValueTypeError(f"one of {{{choices}}} (or its index 0..{len(labels) - 1}), got {_show(value)}")


def value_problem(value: VarValue, t: ast.TypeRef, from_cli: bool) -> str | None:
    """Why a given value does not fit a type (None when it does)."""
    try:
        if from_cli and isinstance(value, str):
            coerce_cli(value, t)
        else:
            check_value(value, t)
    except ValueTypeError as exc:
        return str(exc)
    return None


def coerce_cli(raw: str, t: ast.TypeRef) -> VarValue:
    """Turn a ``--var name=value`` string into a typed value."""
    name = t.name
    if name in ("text", "label"):
        return check_value(raw, t)
    if name == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueTypeError(f"int, got {raw!r}") from None
    if name == "float":
        try:
            return float(raw)
        except ValueError:
            raise ValueTypeError(f"float, got {raw!r}") from None
    if name == "bool":
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ValueTypeError(f"bool (true/false), got {raw!r}")
    if name == "list" and t.item is not None:
        stripped = raw.strip()
        if stripped.startswith("["):
            try:
                items = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise ValueTypeError(f"a JSON list, but it does not parse: {exc.msg}") from None
            return check_value(items, t)
        parts = [p.strip() for p in raw.split(",")] if raw.strip() else []
        return [coerce_cli(p, t.item) for p in parts]
    raise ValueTypeError(f"unknown type {name}")


def _show(value: VarValue) -> str:
    kind = {str: "text", bool: "bool", int: "int", float: "float", list: "list"}.get(type(value), type(value).__name__)
    return f"{kind} {json.dumps(value, ensure_ascii=False)}"


def to_text(value: VarValue) -> str:
    """How a value reads when interpolated: lists joined with ', ', booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.1f}" if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, list):
        return ", ".join(to_text(v) for v in value)
    if value is None:
        return ""
    return str(value)
