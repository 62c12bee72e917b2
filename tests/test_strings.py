"""String literals (langgpt/strings.py): dedent, escapes, tags, references, comments, verbatim strings
and the source positions of the pieces, observed through the parser's AST and the text target."""

from __future__ import annotations

import pytest

import langgpt
from langgpt import DiagnosticError, ast

HEAD = "# Role: A\n\n## Goals\n"


def parse_goals(literal: str, decls: str = "", extra_sections: str = "") -> langgpt.Program:
    """A role whose only (first) section is ``goals <literal>``; the literal starts at line 2+, col 9."""
    return langgpt.parse(f"{decls}role A {{\n  goals {literal}\n{extra_sections}}}\n", "t.lgpt")


def goals_text(literal: str, decls: str = "") -> ast.Text:
    program = parse_goals(literal, decls)
    section = program.document.roles()[0].members[0]
    assert isinstance(section, ast.Section)
    assert isinstance(section.body, ast.Text)
    return section.body


def render_goals(literal: str, decls: str = "", variables: dict[str, object] | None = None) -> str:
    """The rendered body of the goals section."""
    out = langgpt.compile(parse_goals(literal, decls), variables=variables).output
    assert out.startswith(HEAD), out
    assert out.endswith("\n")
    return out[len(HEAD) : -1]


def flat(segments: tuple[ast.Segment, ...]) -> list[ast.Segment]:
    out: list[ast.Segment] = []
    for seg in segments:
        out.append(seg)
        if isinstance(seg, ast.IfSeg):
            for branch in seg.branches:
                out.extend(flat(branch.body))
        elif isinstance(seg, ast.ForSeg):
            out.extend(flat(seg.body))
    return out


# ----------------------------------------------------------------------------- dedent


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        pytest.param('"""\n    a\n      b\n    """', "a\n  b", id="common-indent-removed"),
        pytest.param('"""   \n    a\n    """', "a", id="whitespace-first-line-dropped"),
        pytest.param('"""\n    a\n    b   \n  \t  """', "a\nb   ", id="whitespace-last-line-dropped"),
        pytest.param('"""\n      a\n    b\n    """', "  a\nb", id="least-indented-line-wins"),
        pytest.param('"""\n    a\n   \n\n    b\n"""', "a\n\n\nb", id="blank-lines-become-empty"),
        pytest.param('"""first\n    a\n      b\n  """', "first\na\n  b", id="inline-first-line-excluded"),
        pytest.param('"""first\n  second"""', "first\nsecond", id="inline-first-line-closing-on-last"),
        pytest.param('"""\n\n    a\n    """', "\na", id="only-first-blank-line-dropped-then-blank-kept"),
        pytest.param('"""one line"""', "one line", id="single-line-long-string"),
        pytest.param('"""He said "hi" and ""ok""."""', 'He said "hi" and ""ok"".', id="quotes-inside"),
    ],
)
def test_dedent(literal: str, expected: str) -> None:
    assert render_goals(literal) == expected


def test_dedent_keeps_second_blank_line() -> None:
    """Only one leading whitespace line is dropped: a second blank line survives as an empty line."""
    text = goals_text('"""\n\n    a\n    """')
    assert "".join(s.text for s in text.segments if isinstance(s, ast.TextSeg)) == "\na"


def test_plain_short_string_is_not_dedented() -> None:
    assert render_goals('"   padded   "') == "   padded   "


def test_dedent_of_value_strings_matches_prose() -> None:
    literal = '"""Hello\n    world\n      deeper"""'
    program = langgpt.parse(
        f'var x: text = {literal}\nrole A {{\n  goals {literal}\n  initialization "{{x}}"\n}}\n', "t.lgpt"
    )
    out = langgpt.compile(program).output
    assert out == "# Role: A\n\n## Goals\nHello\nworld\n  deeper\n\n## Initialization\nHello\nworld\n  deeper\n"


# ----------------------------------------------------------------------------- escapes and literal braces


def test_escapes() -> None:
    assert render_goals(r'"a \{x\} \" \n \t \\ \< \>"') == 'a {x} " \n \t \\ < >'


def test_unknown_escape_is_kept() -> None:
    assert render_goals(r'"keep \q and \d"') == r"keep \q and \d"


def test_escapes_in_unquoted_item_text() -> None:
    program = langgpt.parse("role A {\n  rules {\n    - use \\{braces\\} and \\<Rules>\n  }\n}\n", "t.lgpt")
    assert langgpt.check(program) == []
    assert langgpt.compile(program).output.endswith("## Rules\n- use {braces} and <Rules>\n")


@pytest.mark.parametrize(
    "literal",
    [
        pytest.param(r'"{\"a\": 1, \"b\": [1, 2]}"', id="json-object"),
        pytest.param('"{1} {2.5} {-x}"', id="digits-and-dash"),
        pytest.param('"{ x} { }"', id="space-after-brace"),
        pytest.param('"ends with {"', id="brace-at-end"),
        pytest.param('"""{\n  "k": "v"\n}"""', id="multiline-json"),
        pytest.param('"""[\n  {"k": "v"}\n]"""', id="multiline-json-inner"),
    ],
)
def test_brace_not_followed_by_letter_is_literal(literal: str) -> None:
    text = goals_text(literal)
    assert all(isinstance(s, ast.TextSeg) for s in text.segments)
    rendered = render_goals(literal)
    assert rendered.count("{") == literal.count("{")
    assert "{" in rendered


def test_brace_followed_by_letter_or_underscore_interpolates() -> None:
    decls = 'var _y: text = "U"\nvar zz: text = "Z"\n'
    assert render_goals('"[{_y}] [{zz}]"', decls) == "[U] [Z]"


def test_json_with_interpolation() -> None:
    decls = 'var name: text = "Ada"\n'
    assert render_goals(r'"{\"name\": \"{name}\"}"', decls) == '{"name": "Ada"}'


# ----------------------------------------------------------------------------- references


def test_html_tag_is_literal_but_capitalised_name_is_a_reference() -> None:
    program = langgpt.parse(
        'role A {\n  rules {\n    - r\n  }\n  goals "<div> <Rules> <a b> <规则>"\n  规则 "x"\n}\n', "t.lgpt"
    )
    # `rules` and `规则` are the same canonical section: E104, so check the segments only
    section = program.document.roles()[0].members[1]
    kinds = [(type(s).__name__, getattr(s, "text", getattr(s, "name", None))) for s in section.body.segments]
    assert kinds == [
        ("TextSeg", "<div> "),
        ("RefSeg", "Rules"),
        ("TextSeg", " <a b> "),
        ("RefSeg", "规则"),
    ]


def test_reference_renders_as_written_and_is_checked() -> None:
    program = langgpt.parse('role A {\n  rules {\n    - r\n  }\n  goals "see <Rules>, not <div>"\n}\n', "t.lgpt")
    assert langgpt.check(program) == []
    assert "## Goals\nsee <Rules>, not <div>\n" in langgpt.compile(program).output
    program = langgpt.parse('role A {\n  goals "see <Rules>"\n}\n', "t.lgpt")
    assert [d.code for d in langgpt.check(program)] == ["E105"]


def test_reference_matching_ignores_case_spaces_and_underscores() -> None:
    program = langgpt.parse(
        'role A {\n  output_format "x"\n  goals "<Output Format> <OUTPUT_FORMAT> <Output-format> <A> <Role>"\n}\n',
        "t.lgpt",
    )
    assert langgpt.check(program) == []


# ----------------------------------------------------------------------------- comments


def test_comment_tag_is_removed() -> None:
    assert render_goals('"a{# a comment #}b {#x#}c"') == "ab c"
    assert all(isinstance(s, ast.TextSeg) for s in goals_text('"a{# c #}b"').segments)


def test_comment_with_braces_inside() -> None:
    assert render_goals('"a{# {not a tag} #}b"') == "ab"


def test_hash_comment_outside_strings_is_not_text() -> None:
    program = langgpt.parse('role A {  # trailing comment\n  goals "x" # another\n}\n', "t.lgpt")
    assert langgpt.compile(program).output == HEAD + "x\n"
    assert [c.text for c in program.document.comments] == ["# trailing comment", "# another"]


# ----------------------------------------------------------------------------- if / for inside strings

DECLS = 'var a: bool = false\nvar b: bool = false\nvar xs: list[text] = ["p", "q"]\n'
NESTED = '"{if a}{for x in xs}[{x}{if b}!{end}]{end}{elif b}B{else}C{end}"'


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"a": True, "b": False}, "[p][q]"),
        ({"a": True, "b": True}, "[p!][q!]"),
        ({"a": False, "b": True}, "B"),
        ({"a": False, "b": False}, "C"),
        ({"a": True, "xs": []}, ""),
    ],
)
def test_nested_if_and_for(values: dict[str, object], expected: str) -> None:
    assert render_goals(NESTED, DECLS, values) == expected


def test_nested_structure_in_ast() -> None:
    text = goals_text(NESTED, DECLS)
    (if_seg,) = text.segments
    assert isinstance(if_seg, ast.IfSeg)
    assert [b.condition is None for b in if_seg.branches] == [False, False, True]
    (for_seg,) = if_seg.branches[0].body
    assert isinstance(for_seg, ast.ForSeg)
    assert (for_seg.var, for_seg.iterable) == ("x", "xs")
    assert [type(s).__name__ for s in for_seg.body] == ["TextSeg", "InterpSeg", "IfSeg", "TextSeg"]


def test_conditions_in_strings() -> None:
    decls = 'var lang: text = "English"\nvar n: int = 3\n'
    literal = '"""{if lang == "English" and n >= 3}A{elif not (n < 3)}B{else}C{end}"""'
    assert render_goals(literal, decls) == "A"
    assert render_goals(literal, decls, {"lang": "French"}) == "B"
    assert render_goals(literal, decls, {"lang": "French", "n": 1}) == "C"


def test_loop_over_list_of_records_style_values() -> None:
    decls = "var xs: list[int] = [1, 2, 3]\n"
    assert render_goals('"{for x in xs}{x};{end}"', decls) == "1;2;3;"


def test_escaped_quotes_inside_condition_tag() -> None:
    decls = 'var lang: text = "en"\n'
    assert render_goals(r'"{if lang == \"en\"}yes{else}no{end}"', decls) == "yes"
    assert render_goals(r'"{if lang == \"en\"}yes{else}no{end}"', decls, {"lang": "de"}) == "no"


def test_unbalanced_tags_are_errors() -> None:
    with pytest.raises(DiagnosticError) as info:
        parse_goals('"{if a}x{else}y{else}z{end}"', DECLS)
    assert info.value.diagnostics[0].code == "E003"


# ----------------------------------------------------------------------------- verbatim strings


def test_verbatim_long_string_keeps_everything() -> None:
    literal = 'r"""\n    {x} \\n \\{ <Rules> {# c #} {if a}\n      indented\n    """'
    text = goals_text(literal)
    assert text.verbatim is True
    assert [type(s).__name__ for s in text.segments] == ["TextSeg"]
    assert render_goals(literal) == "{x} \\n \\{ <Rules> {# c #} {if a}\n  indented"
    assert langgpt.check(parse_goals(literal)) == []


def test_verbatim_short_string() -> None:
    assert render_goals(r'r"{x} \n <Rules>"') == r"{x} \n <Rules>"


def test_literal_keeps_source_spelling() -> None:
    literal = r'"a \{ {# c #} b"'
    assert goals_text(literal).literal == literal


# ----------------------------------------------------------------------------- positions


def interp_positions(text: ast.Text) -> dict[str, tuple[int, int, int, int]]:
    return {
        s.name: (s.span.line, s.span.col, s.span.end_line, s.span.end_col)
        for s in flat(text.segments)
        if isinstance(s, ast.InterpSeg)
    }


DECLS_XYZ = 'var x: text = "1"\nvar y: text = "2"\nvar z: text = "3"\n'  # 3 lines: the role starts on line 4


def test_positions_in_single_line_string() -> None:
    # line 5 is `  goals "ab {x} {y}"`: the literal starts at col 9, its body at col 10
    text = goals_text('"ab {x} {y}"', DECLS_XYZ)
    assert (text.span.line, text.span.col, text.span.end_line, text.span.end_col) == (5, 9, 5, 21)
    assert interp_positions(text) == {"x": (5, 13, 5, 16), "y": (5, 17, 5, 20)}


def test_positions_after_escapes_and_wide_characters() -> None:
    text = goals_text(r'"\{诗 {x}"', DECLS_XYZ)
    assert interp_positions(text)["x"][:2] == (5, 14)


def test_positions_in_multiline_string() -> None:
    literal = '"""\n    a {x}\n      b {y}\n\n    c {if z}{z}{end}\n    """'
    text = goals_text(literal, DECLS_XYZ)
    # the literal opens on line 5; its body lines are 6, 7, (8 blank), 9
    assert interp_positions(text) == {
        "x": (6, 7, 6, 10),
        "y": (7, 9, 7, 12),
        "z": (9, 13, 9, 16),
    }
    (if_seg,) = [s for s in flat(text.segments) if isinstance(s, ast.IfSeg)]
    assert (if_seg.span.line, if_seg.span.col) == (9, 7)
    cond = if_seg.branches[0].condition
    assert isinstance(cond, ast.NameRef)
    assert (cond.span.line, cond.span.col) == (9, 11)
    assert (text.span.line, text.span.end_line) == (5, 10)


def test_positions_with_inline_first_line() -> None:
    literal = '"""ab {x}\n      c {y}\n    """'
    text = goals_text(literal, DECLS_XYZ)
    # first line: body starts right after the quotes (col 9 + 3); following lines are dedented by 4
    assert interp_positions(text) == {"x": (5, 15, 5, 18), "y": (6, 9, 6, 12)}


def test_diagnostic_position_inside_multiline_string() -> None:
    program = langgpt.parse('role A {\n  goals """\n    fine\n      uses {missing} here\n    """\n}\n', "t.lgpt")
    (diag,) = langgpt.check(program)
    assert (diag.code, diag.span.line, diag.span.col) == ("E101", 4, 12)


def test_condition_error_position_inside_string() -> None:
    with pytest.raises(DiagnosticError) as info:
        langgpt.parse('var a: bool = true\nrole A {\n  goals "x {if a and} y {end}"\n}\n', "t.lgpt")
    (diag,) = info.value.diagnostics
    assert diag.code == "E117"
    assert diag.span.line == 3
    assert 15 <= diag.span.col <= 20  # somewhere inside `a and`, never before the tag
