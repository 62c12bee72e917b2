"""The ``json`` and ``yaml`` targets: a role in LangGPT's JSON / YAML role form.

A role compiles to ``{"Role": {"name": <title>, <section title>: <body>, ...}}``, sections in order.
A body becomes:

* prose -> a string;
* only fields and subsections -> a mapping: ``key: text`` gives ``"Key": "text"`` (the key as the
  text target prints it), a subsection gives ``"Title": <its body>``;
* anything else -> a list: an item gives its text, an item with deeper items under it gives
  ``{"text": [children]}``, a paragraph its text, a field ``{"Key": "text"}``, a subsection
  ``{"Title": <its body>}``.

The json target writes every text as a string. The yaml target writes a text that is exactly how
YAML spells an integer, a float or a boolean (``42``, ``0.1``, ``true``) as that scalar, the way a
YAML role is written by hand (``Version: 0.1``); other texts stay strings, multi-line ones in block
style. ``langgpt.importers.structured`` is the inverse: import then compile gives back the same data.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from langgpt.errors import UsageError
from langgpt.render import RenderedRole, RenderedTemplate, REntry, RField, RItem, RPara, RSub

_INT = re.compile(r"-?[0-9]+\Z")
_FLOAT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:e[-+][0-9]+)?\Z")


def compile_json(rendered: RenderedRole | RenderedTemplate) -> str:
    return json.dumps(role_object(rendered), ensure_ascii=False, indent=4) + "\n"


def compile_yaml(rendered: RenderedRole | RenderedTemplate) -> str:
    import yaml

    data = _yaml_values(role_object(rendered))
    text: str = yaml.dump(data, Dumper=_dumper(), allow_unicode=True, sort_keys=False, width=1 << 20)
    return text


def role_object(rendered: RenderedRole | RenderedTemplate) -> dict[str, Any]:
    """The role as plain data: ``{"Role": {"name": ..., <section title>: <body>, ...}}``."""
    if not isinstance(rendered, RenderedRole):
        raise UsageError("the json/yaml targets compile roles; pick a role with --entry")
    role: dict[str, Any] = {"name": rendered.title}
    for section in rendered.sections:
        key, n = section.title, 2
        while key in role:  # two sections with one title: keep both
            key, n = f"{section.title} ({n})", n + 1
        role[key] = body_value(section.body)
    return {"Role": role}


def body_value(body: list[REntry] | str) -> Any:
    """A section or subsection body as data: a string, a mapping or a list (see the module doc)."""
    if isinstance(body, str):
        return body
    if body and all(isinstance(e, (RField, RSub)) for e in body):
        mapping: dict[str, Any] = {}
        for entry in body:
            if isinstance(entry, RField):
                mapping.setdefault(entry.key, entry.text)
            elif isinstance(entry, RSub):
                mapping.setdefault(entry.title, body_value(entry.body))
        if len(mapping) == len(body):  # a repeated key keeps the entries as a list instead
            return mapping
    out: list[Any] = []
    run: list[RItem] = []
    for entry in body:
        if isinstance(entry, RItem):
            run.append(entry)
            continue
        out.extend(_item_trees(run))
        run = []
        if isinstance(entry, RField):
            out.append({entry.key: entry.text})
        elif isinstance(entry, RPara):
            out.append(entry.text)
        elif isinstance(entry, RSub):
            out.append({entry.title: body_value(entry.body)})
    out.extend(_item_trees(run))
    return out


def _item_trees(run: list[RItem]) -> list[Any]:
    """A run of list items, nested by depth: a leaf is its text, a parent ``{text: [children]}``."""
    root: list[tuple[str, list[Any]]] = []
    stack: list[tuple[int, list[tuple[str, list[Any]]]]] = [(-1, root)]
    for item in run:
        while len(stack) > 1 and stack[-1][0] >= item.depth:
            stack.pop()
        node: tuple[str, list[Any]] = (item.text, [])
        stack[-1][1].append(node)
        stack.append((item.depth, node[1]))

    def value(node: tuple[str, list[Any]]) -> Any:
        text, children = node
        return {text: [value(c) for c in children]} if children else text

    return [value(node) for node in root]


def yaml_scalar(text: str) -> Any:
    """What the yaml target writes for a text: an int, float or bool when the text is exactly how
    that value is spelled (``42``, ``-3``, ``0.1``, ``1e-05``, ``true``), else the text itself."""
    if text in ("true", "false"):
        return text == "true"
    if _INT.match(text):
        number = int(text)
        return number if str(number) == text else text
    if _FLOAT.match(text) and ("." in text or "e" in text):
        real = float(text)
        return real if repr(real) == text else text
    return text


def _yaml_values(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _yaml_values(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_yaml_values(child) for child in value]
    return yaml_scalar(value) if isinstance(value, str) else value


@cache
def _dumper() -> Any:
    """A SafeDumper that writes multi-line texts in literal block style (``|``) where YAML allows it,
    and texts holding the Unicode line breaks NEL, LS or PS double-quoted (PyYAML writes those
    unescaped in the other styles, and they do not read back)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        style = '"' if any(ch in data for ch in "\x85\u2028\u2029") else "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, text)
    return Dumper
