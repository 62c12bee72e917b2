"""``lgpt compile`` and ``lgpt check`` must not import the training stack (torch and friends).

The check runs in a fresh interpreter. Stub packages with the heavy names are put first on the path,
so an import of any of them would succeed and show up in ``sys.modules`` even where the real
packages are not installed: the assertion can fail on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT

HEAVY = ("torch", "transformers", "peft", "datasets", "accelerate")

SCRIPT = """
import json, sys
import langgpt.cli
sys.argv = ["lgpt", *json.loads(sys.argv[1])]
code = 0
try:
    langgpt.cli.main()
except SystemExit as exc:
    code = exc.code or 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
sys.stdout.write("\\n" + MARKER + json.dumps({"code": code, "heavy": heavy}) + "\\n")
"""
MARKER = "@@import-probe@@"


def probe_script(extra_import: str = "") -> str:
    head = f"HEAVY = {HEAVY!r}\nMARKER = {MARKER!r}\n"
    script = head + SCRIPT
    return script.replace("import langgpt.cli", f"import langgpt.cli{extra_import}")


def probe_result(stdout: str) -> dict[str, object]:
    assert MARKER in stdout, stdout
    result = json.loads(stdout.rsplit(MARKER, 1)[1])
    assert isinstance(result, dict)
    return result


def run_cli_in_fresh_interpreter(args: list[str], stubs: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LGPT_DEBUG")}
    env["PYTHONPATH"] = os.pathsep.join([str(stubs), str(REPO_ROOT)])
    proc = subprocess.run(
        [sys.executable, "-c", probe_script(), json.dumps(args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return probe_result(proc.stdout)


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("heavy_stubs")
    for name in HEAVY:
        (root / name).mkdir()
        (root / name / "__init__.py").write_text("__version__ = '0.0.0+stub'\n", encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        pytest.param(
            ["compile", "prompts/sentiment.lgpt", "--vars", "prompts/sentiment.vars.json", "-t", "messages"],
            0,
            id="compile-messages",
        ),
        pytest.param(["compile", "prompts/sentiment.lgpt", "--var", "sentence=x", "-t", "text"], 0, id="compile-text"),
        pytest.param(["compile", "prompts/sentiment.lgpt", "-t", "ast"], 0, id="compile-ast"),
        pytest.param(["check", "prompts/sentiment.lgpt", "prompts/weather.lgpt", "prompts/ner.lgpt"], 0, id="check"),
        pytest.param(["check", "--format", "json", "prompts/errors/unknown_type.lgpt"], 1, id="check-errors"),
    ],
)
def test_cli_does_not_import_training_stack(args: list[str], exit_code: int, stubs: Path) -> None:
    result = run_cli_in_fresh_interpreter(args, stubs)
    assert result["code"] == exit_code
    assert result["heavy"] == []


def test_stubs_would_be_detected(stubs: Path) -> None:
    """Control: the probe does see a heavy module when one is imported."""
    script = probe_script(", torch")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(stubs), str(REPO_ROOT)])
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(["--version"])],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert probe_result(proc.stdout) == {"code": 0, "heavy": ["torch"]}
