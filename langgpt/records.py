"""Immutable typed records: the base of AST nodes and of the compiler's small result types.

Why not pydantic models or stdlib dataclasses: ``lgpt compile`` must start in a fraction of a second.
Building ~45 pydantic models, or dataclasses (which compile generated source for every method), cost
more than the whole rest of a compile. These bases give the same typed, immutable, compared-by-value
records (``dataclass_transform`` tells type checkers so) at almost no import cost. Pydantic is still
what validates and serialises them: it is imported only when JSON is asked for (the ``ast`` target),
through the schema ``_json_schema`` builds from the same annotations.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar, Literal, TypeVar

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # pragma: no cover
    from typing_extensions import dataclass_transform

_R = TypeVar("_R", bound="_Record")


class FrozenInstanceError(AttributeError):
    """Raised on any attempt to modify a record."""


class _Record:
    """Fields are the class annotations (base classes first, names starting with `_` excluded);
    class attributes give defaults. Instances are immutable and compared and hashed by value."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _field_set: ClassVar[frozenset[str]] = frozenset()
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: list[str] = []
        defaults: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            for name in klass.__dict__.get("__annotations__", {}):  # noqa: RUF063 - inspect is a costly import
                if name.startswith("_"):
                    continue
                if name not in fields:
                    fields.append(name)
                if name in klass.__dict__:
                    defaults[name] = klass.__dict__[name]
        cls._fields = tuple(fields)
        cls._field_set = frozenset(fields)
        cls._defaults = defaults

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            kwargs = self._positional(args, kwargs)
        if kwargs.keys() == self._field_set:  # the common case, kept fast: every field given
            self.__dict__.update(kwargs)
            return
        unknown = kwargs.keys() - self._field_set
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unknown fields {sorted(unknown)}")
        missing = [name for name in self._fields if name not in kwargs and name not in self._defaults]
        if missing:
            raise TypeError(f"{type(self).__name__}() missing fields {missing}")
        self.__dict__.update(self._defaults)
        self.__dict__.update(kwargs)

    def _positional(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if len(args) > len(self._fields):
            raise TypeError(f"{type(self).__name__}() takes at most {len(self._fields)} arguments")
        merged = dict(zip(self._fields, args, strict=False))
        for name in kwargs:
            if name in merged:
                raise TypeError(f"{type(self).__name__}() got two values for `{name}`")
        merged.update(kwargs)
        return merged

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field `{name}`: {type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field `{name}`: {type(self).__name__} is immutable")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({inner})"

    def model_copy(self: _R, update: dict[str, Any]) -> _R:
        """A copy with some fields replaced (records are immutable)."""
        values = {name: getattr(self, name) for name in self._fields}
        values.update(update)
        return type(self)(**values)


@dataclass_transform(kw_only_default=True, frozen_default=True, eq_default=True)
class Frozen(_Record):
    """Keyword-only immutable record (AST nodes), with JSON through pydantic."""

    def model_dump_json(self, indent: int | None = None) -> str:
        """JSON of this record and everything under it (pydantic serialisation)."""
        data: bytes = _adapter(type(self)).dump_json(self, indent=indent)
        return data.decode("utf-8")

    @classmethod
    def model_validate_json(cls: type[_R], data: str | bytes) -> _R:
        """Load from JSON, validating every field and rebuilding the same classes."""
        node: _R = _adapter(cls).validate_json(data)
        return node

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Pydantic's view of a record type: see ``_json_schema``."""
        return _json_schema(cls)


@dataclass_transform(kw_only_default=False, frozen_default=True, eq_default=True)
class Record(_Record):
    """Immutable record that may also be built positionally (small result types)."""


_ADAPTERS: dict[str, Any] = {}


def _adapter(cls: type) -> Any:
    """One pydantic TypeAdapter per record type, built on first use (building one is slow)."""
    key = f"{cls.__module__}.{cls.__qualname__}"
    if key not in _ADAPTERS:
        from pydantic import TypeAdapter

        _ADAPTERS[key] = TypeAdapter(cls)
    return _ADAPTERS[key]


def _json_schema(root: type[Frozen]) -> Any:
    """A pydantic-core schema for ``root`` and every record type reachable from it.

    Each record type is one definition: a JSON object with exactly the record's fields, each validated
    against its annotation, then rebuilt as the record class. Unions of node types are tagged unions on
    ``kind``, so loading picks the class directly. Definitions make recursive types (a condition
    inside a condition) finite."""
    import typing

    from pydantic_core import core_schema as cs

    definitions: dict[str, Any] = {}

    def define(cls: type[Frozen]) -> Any:
        name = f"{cls.__module__}.{cls.__qualname__}"
        if name not in definitions:
            definitions[name] = None  # placeholder while the fields are built: breaks recursion
            hints = _hints(cls)
            fields = {
                field: cs.typed_dict_field(convert(hints[field]), required=field not in cls._defaults)
                for field in cls._fields
            }
            shape = cs.typed_dict_schema(fields, extra_behavior="forbid")
            definitions[name] = cs.no_info_after_validator_function(
                _builder(cls),
                shape,
                ref=name,
                serialization=cs.plain_serializer_function_ser_schema(_dumper(cls), return_schema=shape),
            )
        return cs.definition_reference_schema(name)

    def convert(hint: Any) -> Any:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if isinstance(hint, type) and issubclass(hint, Frozen):
            return define(hint)
        if hint in _SCALARS:
            return _SCALARS[hint](cs)
        if origin is Literal:
            return cs.literal_schema(list(args))
        if origin is tuple:
            return cs.tuple_schema([convert(args[0])], variadic_item_index=0)
        if origin in (typing.Union, _UnionType):
            members = [a for a in args if a is not type(None)]
            inner = _union(members, convert, cs)
            return cs.nullable_schema(inner) if len(members) < len(args) else inner
        raise TypeError(f"no JSON schema for {hint!r}")

    top = define(root)
    return cs.definitions_schema(top, list(definitions.values()))


def _builder(cls: type[Frozen]) -> Any:
    return lambda data: cls(**data)


def _dumper(cls: type[Frozen]) -> Any:
    return lambda node: {field: getattr(node, field) for field in cls._fields}


def _hints(cls: type) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def _union(members: list[Any], convert: Any, cs: Any) -> Any:
    if len(members) == 1:
        return convert(members[0])
    if all(isinstance(m, type) and issubclass(m, Frozen) for m in members):
        choices: dict[str, Any] = {}
        for member in members:
            for kind in _kinds(member):
                choices[kind] = convert(member)
        return cs.tagged_union_schema(choices, discriminator="kind")
    return cs.union_schema([convert(m) for m in members])


def _kinds(cls: type) -> tuple[str, ...]:
    import typing

    return tuple(typing.get_args(_hints(cls)["kind"]))


_UnionType = type(int | str)
_SCALARS: dict[Any, Any] = {
    str: lambda cs: cs.str_schema(),
    int: lambda cs: cs.int_schema(strict=True),
    float: lambda cs: cs.float_schema(),
    bool: lambda cs: cs.bool_schema(strict=True),
    type(None): lambda cs: cs.none_schema(),
}
