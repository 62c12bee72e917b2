"""``lgpt run``, ``lgpt predict`` and ``lgpt eval`` end to end, in real processes, on a tiny BERT.

The processes start the CLI the way the installed ``lgpt`` console script does (``langgpt.cli:main``);
``python -m langgpt.cli`` is tested separately for the runtime commands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT

pytest.importorskip("torch")
pytest.importorskip("peft")

HEAVY = ("torch", "transformers", "peft", "datasets", "accelerate")
ENTRY = "import sys; from langgpt.cli import main; sys.argv[0] = 'lgpt'; main()"  # what the lgpt script runs
LABELS = ("negative", "positive")

SOURCE = """\
lgpt 1

var sentence: text "the review"
var label: label {negative, positive} "the gold sentiment"

template cloze {
  text: "Review: {sentence} Sentiment: {answer}"
  answer: label
}

verbalizer words for label {
  negative: "terrible", "bad"
  positive: "great", "good"
}

train {
  method: lora
  task: classify
  entry: cloze
  lr: 1e-2
  batch_size: 4
  seed: 7
  log_every: 1
}
"""
GOOD = ["great film", "good phone", "the acting was great", "great battery", "a great plot", "great and good"]
BAD = ["terrible film", "bad phone", "the acting was bad", "terrible battery", "a terrible plot", "bad and terrible"]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LGPT_DEBUG", "PYTHONPATH")}
    env.update(HF_HUB_OFFLINE="1", NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1", COLUMNS="120", TERM="dumb")
    return env


def lgpt(*args: str | Path, timeout: int = 180) -> Run:
    proc = subprocess.run(
        [sys.executable, "-c", ENTRY, *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environment(),
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def clean(run: Run) -> None:
    both = run.stdout + run.stderr
    assert "Traceback" not in both, both
    assert "internal error" not in both, both


class Files:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.source = root / "sentiment.lgpt"
        self.source.write_text(SOURCE, encoding="utf-8")
        rows: list[dict[str, Any]] = []
        for good, bad in zip(GOOD, BAD, strict=True):
            rows += [{"sentence": good, "label": "positive"}, {"sentence": bad, "label": "negative"}]
        self.rows = rows
        self.train = self._jsonl("train.jsonl", rows)
        self.eval = self._jsonl("eval.jsonl", rows[:6])
        self.bad = self._jsonl("bad.jsonl", [*rows, {"sentence": "meh", "label": "neutral"}])

    def _jsonl(self, name: str, rows: list[dict[str, Any]]) -> Path:
        path = self.root / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("runtime_cli"))


@pytest.fixture(scope="module")
def trained(files: Files, bert_dir: str) -> tuple[Run, Path]:
    """One `lgpt run` shared by the tests that need a finished run."""
    output = files.root / "run"
    args = ("run", files.source, "--train", files.train, "--eval", files.eval, "-o", output)
    run = lgpt(*args, "--model", bert_dir, "--epochs", "1", "-q")
    return run, output


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ----------------------------------------------------------------------------- lgpt run / predict / eval


def test_run_prints_before_and_after(trained: tuple[Run, Path]) -> None:
    run, output = trained
    assert run.code == 0, run.stderr
    clean(run)
    assert "before training" in run.stdout and "after training" in run.stdout
    metrics = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["train"]["steps"] == 3  # 12 rows, batch 4, --epochs 1
    table = [line for line in run.stdout.splitlines() if "accuracy" in line or "macro_f1" in line]
    assert len(table) == 2
    accuracy, macro_f1 = table
    assert f"{metrics['before']['accuracy']:.4f}" in accuracy and f"{metrics['accuracy']:.4f}" in accuracy
    assert f"{metrics['before']['macro_f1']:.4f}" in macro_f1 and f"{metrics['macro_f1']:.4f}" in macro_f1
    assert json.loads((output / "config.json").read_text(encoding="utf-8"))["epochs"] == 1.0  # the flag
    assert "run directory:" in run.stderr  # the closing line (-q drops only bars and the summary)
    assert "trainable parameters" not in run.stderr  # -q: no settings summary


def test_predict_data_to_a_file(trained: tuple[Run, Path], files: Files) -> None:
    _, output = trained
    target = files.root / "preds.jsonl"
    run = lgpt("predict", files.source, "--run", output, "--data", files.eval, "-o", target)
    assert run.code == 0, run.stderr
    clean(run)
    predictions = read_jsonl(target)
    assert len(predictions) == 6
    assert [p["row"] for p in predictions] == [1, 2, 3, 4, 5, 6]
    assert all(set(p) == {"row", "prediction", "confidence"} for p in predictions)  # no `gold` in predict output
    # the same model on the same rows as the run's own evaluation
    during_run = [{k: v for k, v in p.items() if k != "gold"} for p in read_jsonl(output / "predictions.jsonl")]
    assert predictions == during_run
    assert "wrote 6 predictions" in run.stderr


def test_predict_one_prompt(trained: tuple[Run, Path], files: Files) -> None:
    _, output = trained
    run = lgpt("predict", files.source, "--run", output, "--prompt", "great film")
    assert run.code == 0, run.stderr
    clean(run)
    lines = run.stdout.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(record) == {"prediction", "confidence"}
    assert record["prediction"] in LABELS and 0.5 <= record["confidence"] <= 1.0
    during_run = read_jsonl(output / "predictions.jsonl")[0]  # row 1 of the eval data is "great film"
    assert record["prediction"] == during_run["prediction"]
    assert record["confidence"] == pytest.approx(during_run["confidence"], abs=1e-4)  # batched with other rows there


def test_run_prompt_zero_shot(files: Files, bert_dir: str) -> None:
    run = lgpt("run", files.source, "--prompt", "terrible plot", "--model", bert_dir)
    assert run.code == 0, run.stderr
    clean(run)
    (line,) = run.stdout.splitlines()
    record = json.loads(line)
    assert record["prediction"] in LABELS and 0.5 <= record["confidence"] <= 1.0


def test_eval_writes_the_metrics(trained: tuple[Run, Path], files: Files) -> None:
    _, output = trained
    target = files.root / "metrics.json"
    run = lgpt("eval", files.source, "--data", files.eval, "--run", output, "-o", target, "-q")
    assert run.code == 0, run.stderr
    clean(run)
    metrics = json.loads(target.read_text(encoding="utf-8"))
    saved = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    for key in ("accuracy", "macro_f1", "report"):
        assert metrics[key] == saved[key], key
    assert "trained run" in run.stdout and f"{saved['accuracy']:.4f}" in run.stdout


# ----------------------------------------------------------------------------- errors, without tracebacks


def test_missing_train_is_a_usage_error(files: Files) -> None:
    run = lgpt("run", files.source, "-o", files.root / "never")
    assert run.code == 2
    clean(run)
    assert "--train" in run.stderr
    assert not (files.root / "never").exists()


def test_bad_data_row_names_file_and_row(files: Files, bert_dir: str) -> None:
    run = lgpt("run", files.source, "--train", files.bad, "-o", files.root / "bad-run", "--model", bert_dir, "-q")
    assert run.code == 1
    clean(run)
    assert "E405" in run.stderr
    assert "bad.jsonl:13" in run.stderr and "neutral" in run.stderr


def test_unknown_method_is_a_usage_error(files: Files, bert_dir: str) -> None:
    run = lgpt(
        "run",
        files.source,
        "--train",
        files.train,
        "-o",
        files.root / "magic",
        "--model",
        bert_dir,
        "--method",
        "magic",
    )
    assert run.code == 2
    clean(run)
    assert "unknown method `magic`" in run.stderr
    assert not (files.root / "magic").exists()


def test_existing_run_directory_without_resume(trained: tuple[Run, Path], files: Files, bert_dir: str) -> None:
    _, output = trained
    before = sorted(p.name for p in output.iterdir())
    run = lgpt("run", files.source, "--train", files.train, "-o", output, "--model", bert_dir, "-q")
    assert run.code == 2
    clean(run)
    assert "already exists" in run.stderr and "--resume" in run.stderr
    assert sorted(p.name for p in output.iterdir()) == before


@pytest.mark.parametrize("command", ["run", "eval", "predict"])
def test_runtime_commands_under_python_m(command: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "langgpt.cli", command, "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--run" in proc.stdout or "--train" in proc.stdout


# ----------------------------------------------------------------------------- import isolation

PROBE = """
import json, sys
HEAVY = {heavy!r}
{body}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
print("@@" + json.dumps({{"heavy": loaded, "runtime_cli": "langgpt.cli_runtime" in sys.modules}}))
"""


def probe(body: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY, body=body)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.rsplit("@@", 1)[1])
    return result


def test_importing_the_cli_imports_no_training_stack() -> None:
    result = probe(
        "import langgpt.cli\n"
        "names = {c.name or c.callback.__name__ for c in langgpt.cli.app.registered_commands}\n"
        "assert {'run', 'eval', 'predict'} <= names, names"
    )
    assert result["runtime_cli"]  # the runtime commands were registered...
    assert result["heavy"] == []  # ...without importing torch and friends


def test_check_and_run_help_import_no_training_stack() -> None:
    body = (
        "import langgpt.cli\n"
        "for argv in (['check', 'prompts/sentiment.lgpt'], ['run', '--help']):\n"
        "    sys.argv = ['lgpt', *argv]\n"
        "    try:\n"
        "        langgpt.cli.main()\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, (argv, exc.code)\n"
    )
    assert probe(body)["heavy"] == []


def test_the_probe_sees_a_heavy_import() -> None:
    """Control: the runtime's training loop does import torch, and the probe notices."""
    assert "torch" in probe("import langgpt.runtime.loop")["heavy"]
