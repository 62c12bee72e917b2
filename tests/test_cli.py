"""The ``lgpt`` command line, through typer's CliRunner and through real processes
(``python -m langgpt.cli`` and the installed ``lgpt`` console script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import REPO_ROOT, error_files, expectation, vars_file_for
from typer.testing import CliRunner

import langgpt
from langgpt.cli import app

SCRIPT = Path(sys.executable).parent / "lgpt"
MODES = [
    "runner",
    "module",
    pytest.param("script", marks=pytest.mark.skipif(not SCRIPT.exists(), reason="no lgpt script")),
]
COERCE = "tests/fixtures/coerce.lgpt"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def both(self) -> str:
        return self.stdout + self.stderr


def lgpt(mode: str, *args: str) -> Run:
    """Run the CLI one way or another, always from the repository root."""
    if mode == "runner":
        result = CliRunner().invoke(app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)
    command = [sys.executable, "-m", "langgpt.cli"] if mode == "module" else [str(SCRIPT)]
    env = {k: v for k, v in os.environ.items() if k != "LGPT_DEBUG"}
    env["NO_COLOR"] = "1"
    proc = subprocess.run(
        [*command, *args], cwd=REPO_ROOT, capture_output=True, text=True, encoding="utf-8", env=env, timeout=60
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def no_traceback(run: Run) -> None:
    assert "Traceback" not in run.both
    assert "internal error" not in run.both


# ----------------------------------------------------------------------------- version and compile to stdout


@pytest.mark.parametrize("mode", MODES)
def test_version(mode: str) -> None:
    run = lgpt(mode, "--version")
    assert run.code == 0
    assert run.stdout == f"lgpt {langgpt.__version__}\n"


@pytest.mark.parametrize("mode", MODES)
def test_no_arguments_shows_help(mode: str) -> None:
    run = lgpt(mode)
    assert run.code in (0, 2)
    assert "compile" in run.both and "check" in run.both
    no_traceback(run)


def api_output(path: str, target: str, entry: str | None = None) -> str:
    from helpers import vars_for

    return langgpt.compile(langgpt.load(path), target, vars_for(path), entry=entry).output


@pytest.mark.parametrize("target", ["text", "messages", "ast"])
@pytest.mark.parametrize("mode", MODES)
def test_compile_to_stdout(mode: str, target: str) -> None:
    path = "prompts/sentiment.lgpt"
    run = lgpt(mode, "compile", path, "--vars", vars_file_for(path), "-t", target)
    assert run.code == 0, run.stderr
    assert run.stdout == api_output(path, target)
    assert run.stderr == ""
    if target != "text":
        json.loads(run.stdout)


@pytest.mark.parametrize("mode", ["runner", "module"])
def test_compile_entry_option(mode: str) -> None:
    path = "prompts/sentiment.lgpt"
    run = lgpt(mode, "compile", path, "--vars", vars_file_for(path), "--entry", "SentimentAnalyst")
    assert run.code == 0
    assert run.stdout == api_output(path, "text", "SentimentAnalyst")
    assert run.stdout.startswith("# Role: Sentiment Analyst\n")


@pytest.mark.parametrize("mode", ["runner", "module"])
def test_compile_answer_option(mode: str) -> None:
    run = lgpt(mode, "compile", "prompts/weather.lgpt", "--vars", "prompts/weather.vars.json", "--answer", "Mild.")
    assert run.code == 0
    assert run.stdout.endswith("Description: Mild.")


# ----------------------------------------------------------------------------- -o


@pytest.mark.parametrize("mode", ["runner", "module"])
def test_output_file_is_written_without_temp_files(mode: str, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "dir" / "sentiment.json"
    path = "prompts/sentiment.lgpt"
    run = lgpt(mode, "compile", path, "--vars", vars_file_for(path), "-t", "messages", "-o", str(out))
    assert run.code == 0, run.stderr
    assert run.stdout == ""
    assert out.read_text(encoding="utf-8") == api_output(path, "messages")
    assert sorted(p.name for p in out.parent.iterdir()) == ["sentiment.json"]
    # overwriting works the same way
    run = lgpt(mode, "compile", path, "--vars", vars_file_for(path), "-t", "text", "-o", str(out))
    assert run.code == 0
    assert out.read_text(encoding="utf-8") == api_output(path, "text")
    assert sorted(p.name for p in out.parent.iterdir()) == ["sentiment.json"]


@pytest.mark.parametrize("mode", ["runner", "module"])
def test_failed_compile_leaves_existing_output_untouched(mode: str, tmp_path: Path) -> None:
    out = tmp_path / "out.md"
    out.write_text("previous contents\n", encoding="utf-8")
    before = out.stat().st_mtime_ns
    run = lgpt(mode, "compile", "prompts/errors/undefined_variable.lgpt", "-o", str(out))
    assert run.code == 1
    assert out.read_text(encoding="utf-8") == "previous contents\n"
    assert out.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.md"]
    # a missing required variable fails at render time: same guarantee
    run = lgpt(mode, "compile", "prompts/weather.lgpt", "-o", str(out))
    assert run.code == 1
    assert "E110" in run.stderr
    assert out.read_text(encoding="utf-8") == "previous contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.md"]


def test_output_to_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    run = lgpt("module", "compile", "prompts/roles/poet.lgpt", "-o", str(tmp_path))
    assert run.code == 2
    no_traceback(run)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- variables


@pytest.mark.parametrize("mode", ["runner", "module"])
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--var", "n=3"], "n=3 f=0.5 b=false xs= ns= l=neg"),
        (["--var", "n=-7", "--var", "f=2", "--var", "b=true"], "n=-7 f=2.0 b=true xs= ns= l=neg"),
        (["--var", "n=1", "--var", "b=yes", "--var", "l=pos"], "n=1 f=0.5 b=true xs= ns= l=pos"),
        (["--var", "n=1", "--var", "b=0", "--var", "l=1"], "n=1 f=0.5 b=false xs= ns= l=pos"),
        (["--var", "n=1", "--var", "xs=a, b ,c"], "n=1 f=0.5 b=false xs=[a][b][c] ns= l=neg"),
        (["--var", "n=1", "--var", 'xs=["a, b", "c"]'], "n=1 f=0.5 b=false xs=[a, b][c] ns= l=neg"),
        (["--var", "n=1", "--var", "ns=1,2"], "n=1 f=0.5 b=false xs= ns=1, 2 l=neg"),
        (["--var", "n=1", "--var", "ns=[3, 4]"], "n=1 f=0.5 b=false xs= ns=3, 4 l=neg"),
        (["--var", "n=1", "--var", "xs="], "n=1 f=0.5 b=false xs= ns= l=neg"),
        (["--var", "n=1", "--var", "n=2"], "n=2 f=0.5 b=false xs= ns= l=neg"),
    ],
)
def test_var_coercion(mode: str, args: list[str], expected: str) -> None:
    run = lgpt(mode, "compile", COERCE, *args)
    assert run.code == 0, run.stderr
    assert run.stdout == expected


@pytest.mark.parametrize(
    ("args", "bad"),
    [
        (["--var", "n=three"], "n"),
        (["--var", "n=1", "--var", "b=maybe"], "b"),
        (["--var", "n=1", "--var", "l=meh"], "l"),
        (["--var", "n=1", "--var", "ns=1,x"], "ns"),
        (["--var", "n=1", "--var", "ns=[1,"], "ns"),
        (["--var", "n=1", "--var", "f=fast"], "f"),
    ],
)
def test_bad_var_value_is_e111(args: list[str], bad: str) -> None:
    run = lgpt("runner", "compile", COERCE, *args)
    assert run.code == 1
    assert "E111" in run.stderr
    assert f"`{bad}`" in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize("mode", ["runner", "module"])
def test_vars_files_json_and_yaml(mode: str, tmp_path: Path) -> None:
    as_json = tmp_path / "v.json"
    as_json.write_text(json.dumps({"n": 4, "xs": ["p", "q"], "l": 1, "f": 1.25}), encoding="utf-8")
    as_yaml = tmp_path / "v.yaml"
    as_yaml.write_text("n: 4\nxs:\n  - p\n  - q\nl: 1\nf: 1.25\n", encoding="utf-8")
    expected = "n=4 f=1.25 b=false xs=[p][q] ns= l=pos"
    for file in (as_json, as_yaml):
        run = lgpt(mode, "compile", COERCE, "--vars", str(file))
        assert run.code == 0, run.stderr
        assert run.stdout == expected
    # --var wins over --vars
    run = lgpt(mode, "compile", COERCE, "--vars", str(as_yaml), "--var", "n=9")
    assert run.stdout == expected.replace("n=4", "n=9")


def test_vars_file_values_are_typed_not_coerced(tmp_path: Path) -> None:
    """A JSON string "4" for an int is a type error (only --var strings are coerced)."""
    file = tmp_path / "v.json"
    file.write_text('{"n": "4"}', encoding="utf-8")
    run = lgpt("runner", "compile", COERCE, "--vars", str(file))
    assert run.code == 1
    assert "E111" in run.stderr


@pytest.mark.parametrize("mode", ["runner", "module"])
def test_undeclared_var_is_e118(mode: str) -> None:
    run = lgpt(mode, "compile", COERCE, "--var", "n=1", "--var", "nn=2")
    assert run.code == 1
    assert "E118" in run.stderr
    assert "`nn`" in run.stderr
    no_traceback(run)


# ----------------------------------------------------------------------------- usage errors (exit 2)


@pytest.mark.parametrize("mode", ["runner", "module"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compile", COERCE, "--var", "n"], "--var expects NAME=VALUE"),
        (["compile", COERCE, "--var", "=3"], "--var expects NAME=VALUE"),
        (["compile", COERCE, "-t", "xml"], "unknown target `xml`"),
        (["compile", "prompts/no_such_file.lgpt"], "no such file"),
        (["compile", "prompts"], "is a directory"),
        (["check", "prompts/no_such_file.lgpt"], "no such file"),
        (["check", "--format", "xml", COERCE], "--format must be text or json"),
        (["compile", COERCE, "--vars", "tests/fixtures/no_such_vars.json"], "cannot read --vars file"),
    ],
)
def test_usage_errors_exit_2(mode: str, args: list[str], message: str) -> None:
    run = lgpt(mode, *args)
    assert run.code == 2
    assert message in run.stderr
    assert run.stdout == ""
    no_traceback(run)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("v.json", "{bad", "invalid JSON"),
        ("v.yaml", "n: [1,\n", "invalid YAML"),
        ("v.json", "[1, 2]", "must hold an object"),
    ],
)
def test_bad_vars_file_exit_2(tmp_path: Path, name: str, content: str, message: str) -> None:
    file = tmp_path / name
    file.write_text(content, encoding="utf-8")
    run = lgpt("module", "compile", COERCE, "--vars", str(file))
    assert run.code == 2
    assert message in run.stderr
    assert str(file) in run.stderr
    no_traceback(run)


def test_unknown_entry_exit_2_in_a_process() -> None:
    run = lgpt("module", "compile", "prompts/weather.lgpt", "--vars", "prompts/weather.vars.json", "-e", "describ")
    assert run.code == 2
    assert "did you mean `describe`" in run.stderr
    no_traceback(run)


def test_unknown_entry_exit_2_through_the_app() -> None:
    result = CliRunner().invoke(
        app, ["compile", "prompts/weather.lgpt", "--vars", "prompts/weather.vars.json", "-e", "x"]
    )
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)


# ----------------------------------------------------------------------------- diagnostics (exit 1)


def expected_location(path: str) -> str:
    code, _, _ = expectation(path)
    try:
        diagnostics = langgpt.check(langgpt.load(path))
    except langgpt.DiagnosticError as exc:
        diagnostics = list(exc.diagnostics)
    return next(d for d in diagnostics if d.code == code).location()


@pytest.mark.parametrize("mode", ["runner", "module"])
@pytest.mark.parametrize("path", error_files(), ids=lambda p: Path(p).stem)
def test_error_files_compile(mode: str, path: str) -> None:
    code, line, col = expectation(path)
    run = lgpt(mode, "compile", path)
    location = expected_location(path)
    assert location.endswith(f":{line}:{col}")
    assert location in run.stderr
    assert f"[{code}]" in run.stderr
    no_traceback(run)
    if code.startswith("E"):
        assert run.code == 1
        assert run.stdout == ""
    else:  # warnings only: compiled, warnings printed
        assert run.code == 0
        assert run.stdout.startswith("# Role: ")


@pytest.mark.parametrize("path", error_files(), ids=lambda p: Path(p).stem)
def test_error_files_check(path: str) -> None:
    code, _, _ = expectation(path)
    run = lgpt("runner", "check", path)
    assert run.code == (1 if code.startswith("E") else 0)
    assert expected_location(path) in run.stderr
    no_traceback(run)
    strict = lgpt("runner", "check", "--strict", path)
    assert strict.code == 1


@pytest.mark.parametrize("mode", MODES)
def test_warnings_only_exit_0_and_1_with_strict(mode: str) -> None:
    path = "prompts/errors/unused_variable.lgpt"
    run = lgpt(mode, "check", path)
    assert run.code == 0
    assert "W201" in run.stderr
    assert "0 error(s), 1 warning(s)" in run.stderr
    assert lgpt(mode, "check", "--strict", path).code == 1


@pytest.mark.parametrize("mode", ["runner", "module"])
def test_check_clean_file(mode: str) -> None:
    run = lgpt(mode, "check", "prompts/sentiment.lgpt", "--strict")
    assert run.code == 0
    assert "ok" in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize("mode", ["runner", "module"])
def test_check_json_format(mode: str) -> None:
    files = ["prompts/errors/misspelled_section.lgpt", "prompts/errors/unknown_type.lgpt", "prompts/sentiment.lgpt"]
    run = lgpt(mode, "check", "--format", "json", *files)
    assert run.code == 1
    report = json.loads(run.stdout)
    assert [(d["code"], d["file"], d["line"], d["col"]) for d in report] == [
        ("W202", "prompts/errors/misspelled_section.lgpt", 8, 3),
        ("E112", "prompts/errors/unknown_type.lgpt", 4, 11),
    ]
    assert [d["severity"] for d in report] == ["warning", "error"]
    assert all(d["message"] and d["expected"] for d in report)
    clean = lgpt(mode, "check", "--format", "json", "prompts/sentiment.lgpt")
    assert clean.code == 0
    assert json.loads(clean.stdout) == []


def test_check_json_of_syntax_error() -> None:
    run = lgpt("runner", "check", "--format", "json", "prompts/errors/missing_closing_brace.lgpt")
    assert run.code == 1
    (diag,) = json.loads(run.stdout)
    assert (diag["code"], diag["line"], diag["col"]) == ("E001", 5, 9)


@pytest.mark.parametrize("mode", ["runner", "module"])
def test_check_many_files_reports_all(mode: str) -> None:
    files = error_files()
    run = lgpt(mode, "check", *files)
    assert run.code == 1
    for path in files:
        assert expected_location(path) in run.stderr, path
    no_traceback(run)
    report = json.loads(lgpt(mode, "check", "--format", "json", *files).stdout)
    reported = {(d["code"], d["line"], d["col"]) for d in report}
    assert {expectation(p) for p in files} <= reported
    errors = sum(1 for d in report if d["severity"] == "error")
    assert f"{errors} error(s), {len(report) - errors} warning(s)" in run.stderr


def test_error_output_shows_source_and_caret() -> None:
    run = lgpt("module", "compile", "prompts/errors/unknown_reference.lgpt")
    assert run.code == 1
    lines = run.stderr.splitlines()
    assert lines[0] == "error[E105]: unknown reference `<Rulez>`"
    assert "  --> prompts/errors/unknown_reference.lgpt:9:78" in lines
    source = next(i for i, ln in enumerate(lines) if ln.startswith(" 9 | "))
    assert lines[source + 1].index("^") == lines[source].index("<Rulez>")
    assert any("= hint: did you mean `<Rules>`?" in ln for ln in lines)
    assert "\x1b[" not in run.stderr  # no colour codes when not on a terminal
