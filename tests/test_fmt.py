"""`lgpt fmt`: canonical, idempotent, comment-preserving, and never changes what a file compiles to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import langgpt
from langgpt.fmt import format_source, shape

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "prompts").rglob("*.lgpt") if "errors" not in p.parts)


def compiled(source: str, path: str, base: Path) -> dict[str, str]:
    program = langgpt.parse(source, path, base)
    vars_file = (ROOT / path).with_suffix("").with_suffix(".vars.json") if path.endswith(".lgpt") else None
    values = json.loads(vars_file.read_text()) if vars_file is not None and vars_file.exists() else {}
    out = {}
    for entry in langgpt.entries(program):
        for target in ("text", "messages"):
            out[f"{entry}:{target}"] = langgpt.compile(program, target=target, variables=values, entry=entry).output
    return out


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_are_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_source(text, str(path)) == text, f"run `lgpt fmt {path.relative_to(ROOT)}`"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_formatting_never_changes_compiled_output(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    rel = str(path.relative_to(ROOT))
    text = path.read_text(encoding="utf-8")
    messy = "\n".join(
        ("    " + line) if line.strip() and not line.lstrip().startswith('"') else line for line in text.splitlines()
    )
    try:
        langgpt.parse(messy, rel, path.parent)
    except langgpt.DiagnosticError:
        messy = text  # re-indenting every line is not always legal (text inside strings): use the file as is
    assert compiled(format_source(messy, rel), rel, path.parent) == compiled(text, rel, path.parent)


UGLY = '''lgpt 1
# header comment

var   lang :text="English"   "language"   # trailing
var n: int = 3
role  R   "The R"{
      # leading comment in the role
  profile{
author : someone
      }
   rules   += {
        - one  # kept as text, not a comment
           - nested
        if lang == "English" and not (n > 4) {
          - english
        }   else {
              - other
        }
        # comment before the closing brace
   }
  background """
        Indented
          more indented
        back
        """
}
template t {
  system: role R
  user:"Hi {lang}"
}
train { lr: 2e-5  metrics: [accuracy,macro_f1]   init: text(R) }
'''


def test_layout_comments_and_idempotence() -> None:
    once = format_source(UGLY)
    assert format_source(once) == once
    for comment in (
        "# header comment",
        "# trailing",
        "# leading comment in the role",
        "# comment before the closing brace",
    ):
        assert comment in once
    assert "  rules += {\n    - one  # kept as text, not a comment\n      - nested\n" in once
    assert "    # comment before the closing brace\n  }" in once
    assert '  background """\n    Indented\n      more indented\n    back\n  """' in once
    assert "train {\n  lr: 2e-5\n  metrics: [accuracy, macro_f1]\n  init: text(R)\n}" in once
    assert shape(langgpt.parse(once).document) == shape(langgpt.parse(UGLY).document)


_ITEM = (
    st.text(alphabet=st.sampled_from("abc xyz 规则 ,.:!?-#"), min_size=1, max_size=20)
    .map(str.strip)
    .filter(lambda s: s and s[0] not in "-#")
)


@st.composite
def lgpt_source(draw: st.DrawFn) -> str:
    lines = ["lgpt 1", "var flag: bool = true", 'var xs: list[text] = ["a", "b"]']
    lines.append("role R {")
    for name in draw(
        st.lists(
            st.sampled_from(["rules", "skills", "goals", "workflow", "notes"]), min_size=1, max_size=4, unique=True
        )
    ):
        indent = " " * draw(st.integers(1, 6))
        lines.append(f"{indent}{name} {{")
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["item", "nested", "if", "for", "comment", "prose"]))
            pad = " " * draw(st.integers(2, 8))
            text = draw(_ITEM)
            if kind == "item":
                lines.append(f"{pad}- {text}")
            elif kind == "nested":
                lines += [f"{pad}- {text}", f"{pad}  - {text}"]
            elif kind == "if":
                lines += [f"{pad}if flag {{", f"{pad}  - {text}", f"{pad}}} else {{", f"{pad}  - other", f"{pad}}}"]
            elif kind == "for":
                lines += [f"{pad}for x in xs {{", f"{pad}  - {text} {{x}}", f"{pad}}}"]
            elif kind == "comment":
                lines.append(f"{pad}# {text}")
            else:
                lines.append(f'{pad}"""{text}\n{pad}  second line"""')
        lines.append(f"{indent}}}")
    lines += ['  flagged_use "{if flag}yes{end}"', "}"]
    return "\n".join(lines) + "\n"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lgpt_source())
def test_generated_sources_format_idempotently_and_compile_the_same(source: str) -> None:
    once = format_source(source)
    assert format_source(once) == once
    before = langgpt.compile(langgpt.parse(source)).output
    after = langgpt.compile(langgpt.parse(once)).output
    assert before == after
    assert sum(line.strip().startswith("#") for line in once.splitlines()) == sum(
        line.strip().startswith("#") for line in source.splitlines()
    )


def test_cli_check_diff_and_write(tmp_path: Path) -> None:
    path = tmp_path / "x.lgpt"
    path.write_text(UGLY, encoding="utf-8")
    cli = [sys.executable, "-m", "langgpt.cli", "fmt"]
    check = subprocess.run([*cli, "--check", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 1 and "would reformat" in check.stderr and path.read_text() == UGLY
    diff = subprocess.run([*cli, "--diff", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert diff.stdout.startswith("---") and "+++" in diff.stdout and path.read_text() == UGLY
    write = subprocess.run([*cli, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert write.returncode == 0 and path.read_text() == format_source(UGLY)
    again = subprocess.run([*cli, "--check", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 0
    assert not [p for p in tmp_path.iterdir() if p.name != "x.lgpt"], "temporary files left behind"


def test_cli_reports_syntax_errors_without_touching_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.lgpt"
    path.write_text("lgpt 1\nrole R {\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "langgpt.cli", "fmt", str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert run.returncode == 1 and "E001" in run.stderr and "Traceback" not in run.stderr
    assert path.read_text() == "lgpt 1\nrole R {\n"


@pytest.mark.parametrize(
    "source",
    [
        # a byte-order mark inside a line is text, not whitespace (the formatter used to refuse this)
        "role R {\n  rules {\n    -\ufeff keep it\n  }\n}\n",
        # if blocks nested without items of their own, written flush left
        "var x: bool = true\nrole R {\n  rules {\n    - keep\nif x {\nif x {\nif x {\n- a\n}\n}\n}\n  }\n}\n",
    ],
    ids=["bom-in-item", "flush-left-nested-ifs"],
)
def test_fuzzer_found_layouts_format(source: str) -> None:
    once = format_source(source)
    assert format_source(once) == once
    assert langgpt.compile(langgpt.parse(once)).output == langgpt.compile(langgpt.parse(source)).output
