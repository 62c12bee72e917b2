"""The AST round-trips through JSON, for every example and for random valid sources (hypothesis)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from helpers import example_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import langgpt
from langgpt import DiagnosticError
from langgpt.ast import Document

# ----------------------------------------------------------------------------- the examples


@pytest.mark.parametrize("path", example_files())
def test_examples_round_trip(path: str) -> None:
    program = langgpt.load(path)
    for module in program.modules:
        doc = module.document
        text = doc.model_dump_json()
        back = Document.model_validate_json(text)
        assert back == doc
        assert back.model_dump_json() == text
        assert type(back.decls[0]) is type(doc.decls[0])


@pytest.mark.parametrize("path", example_files())
def test_ast_target_is_the_document_json(path: str) -> None:
    program = langgpt.load(path)
    output = langgpt.compile(program, "ast").output
    assert output.endswith("\n")
    assert Document.model_validate_json(output) == program.document
    assert json.loads(output) == json.loads(program.document.model_dump_json())


def test_round_trip_detects_a_change() -> None:
    """Control: equality is by value, so a modified tree is not equal."""
    doc = langgpt.load("prompts/sentiment.lgpt").document
    data = json.loads(doc.model_dump_json())
    data["decls"][0]["name"] = "changed"
    assert Document.model_validate_json(json.dumps(data)) != doc


def test_invalid_json_is_rejected() -> None:
    doc = langgpt.load("prompts/weather.lgpt").document
    data = json.loads(doc.model_dump_json())
    data["decls"][0]["kind"] = "no_such_kind"
    with pytest.raises(ValueError):
        Document.model_validate_json(json.dumps(data))
    data = json.loads(doc.model_dump_json())
    data["unexpected"] = 1
    with pytest.raises(ValueError):
        Document.model_validate_json(json.dumps(data))


def test_overflowing_float_literal_is_rejected_or_round_trips() -> None:
    source = 'var x: float = 1e400\ntemplate T "{x}"\n'
    try:
        program = langgpt.parse(source, "t.lgpt")
    except DiagnosticError:
        return
    if any(d.is_error for d in langgpt.check(program)):
        return
    assert Document.model_validate_json(program.document.model_dump_json()) == program.document


# ----------------------------------------------------------------------------- random valid sources

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ中文诗人规则测试数据你好世界春雨"
INNER = LETTERS + "0123456789,.;!?()-:，。"
words = st.text(alphabet=INNER, min_size=1, max_size=8).map(lambda w: w.strip(":"))
first_word = st.text(alphabet=LETTERS, min_size=1, max_size=8)
safe_text = st.builds(
    lambda head, rest: " ".join([head, *[w for w in rest if w]]),
    first_word,
    st.lists(words, max_size=6),
)

SECTION_NAMES = [
    "skills",
    "rules",
    "goals",
    "background",
    "constraints",
    "attention",
    "workflow",
    "suggestions",
    "reminder",
    "style_guide",
    "说明",
    "风格",
]
PROFILE_KEYS = ["author", "version", "language", "description", "作者", "语言"]
ROLE_NAMES = ["Analyst", "诗人", "Helper_2", "Writer"]
LABELS = ("neg", "pos", "中性")


@dataclass
class Var:
    name: str
    type: str
    literal: str
    shown: str  # how the default reads when interpolated


@dataclass
class Source:
    text: str
    role: str
    items: list[str] = field(default_factory=list)
    shown_values: list[str] = field(default_factory=list)


def quote(text: str) -> str:
    return '"' + text + '"'


@st.composite
def variables(draw: st.DrawFn) -> list[Var]:
    out = []
    kinds = draw(st.lists(st.sampled_from(["text", "int", "float", "bool", "label", "list"]), max_size=6))
    for i, kind in enumerate(kinds):
        name = f"v{i}_{kind}" if i % 2 else f"变量{i}"
        if kind == "text":
            value = draw(safe_text)
            out.append(Var(name, "text", quote(value), value))
        elif kind == "int":
            value = draw(st.integers(-(10**12), 10**12))
            out.append(Var(name, "int", str(value), str(value)))
        elif kind == "float":
            whole, frac = draw(st.integers(-999, 999)), draw(st.integers(1, 99))
            literal = f"{whole}.{frac:02d}"
            out.append(Var(name, "float", literal, repr(float(literal))))
        elif kind == "bool":
            value = draw(st.booleans())
            out.append(Var(name, "bool", "true" if value else "false", "true" if value else "false"))
        elif kind == "label":
            index = draw(st.integers(0, len(LABELS) - 1))
            literal = draw(st.sampled_from([str(index), LABELS[index]]))
            out.append(Var(name, "label {" + ", ".join(LABELS) + "}", literal, LABELS[index]))
        else:
            values = draw(st.lists(safe_text, max_size=3))
            literal = "[" + ", ".join(quote(v) for v in values) + "]"
            out.append(Var(name, "list[text]", literal, ", ".join(values)))
    return out


@st.composite
def sources(draw: st.DrawFn) -> Source:
    role = draw(st.sampled_from(ROLE_NAMES))
    vars_ = draw(variables())
    lines = ["lgpt 1", ""]
    for var in vars_:
        description = draw(st.one_of(st.none(), safe_text))
        lines.append(f"var {var.name}: {var.type} = {var.literal}" + (f" {quote(description)}" if description else ""))
    title = draw(st.one_of(st.none(), safe_text))
    lines.append(f"role {role}" + (f" {quote(title)}" if title else "") + " {")
    src = Source("", role)
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(PROFILE_KEYS), unique=True, min_size=1, max_size=4))
        lines.append("  profile {")
        for key in keys:
            value = draw(safe_text)
            colon = draw(st.sampled_from([":", "："]))
            lines.append(f"    {key}{colon} {value}")
            src.items.append(value)
        lines.append("  }")
    names = draw(st.lists(st.sampled_from(SECTION_NAMES), unique=True, min_size=1, max_size=5))
    for section in names:
        lines.append(f"  {section} {{")
        for text in draw(st.lists(safe_text, min_size=1, max_size=4)):
            marker = draw(st.sampled_from(["-", "1."]))
            written = quote(text) if draw(st.booleans()) else text
            lines.append(f"    {marker} {written}")
            src.items.append(text)
            if draw(st.integers(0, 3)) == 0:
                nested = draw(safe_text)
                lines.append(f"      - {nested}")
                src.items.append(nested)
        lines.append("  }")
    if vars_:
        lines.append("  notes {")
        for var in vars_:
            lines.append(f"    - value of {var.name} is [{{{var.name}}}]")
            src.shown_values.append(f"value of {var.name} is [{var.shown}]")
        lines.append("  }")
    lines.append("}")
    src.text = "\n".join(lines) + "\n"
    return src


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources())
def test_random_sources(src: Source) -> None:
    program = langgpt.parse(src.text, "random.lgpt")
    errors = [d for d in langgpt.check(program) if d.is_error]
    assert not errors, (errors, src.text)

    doc = program.document
    back = Document.model_validate_json(doc.model_dump_json())
    assert back == doc

    first = langgpt.compile(program, "text").output
    again = langgpt.compile(langgpt.parse(src.text, "random.lgpt"), "text").output
    assert first.encode("utf-8") == again.encode("utf-8")
    assert first.startswith("# Role: ")

    for item in src.items:
        assert item in first, (item, src.text, first)
    for shown in src.shown_values:
        assert shown in first, (shown, src.text, first)

    messages = json.loads(langgpt.compile(program, "messages").output)
    assert messages == [{"role": "system", "content": first.rstrip("\n")}]
