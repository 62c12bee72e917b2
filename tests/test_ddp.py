"""``lgpt run`` under ``torchrun`` (2 CPU processes, gloo): each rank takes every 2nd example of the
global batch and the loss is divided by the global count, so two processes with half a batch each
must train the same weights as one process with the whole batch; only rank 0 writes the run directory;
a killed distributed run resumes to the same result.

The tiny BERT is copied with dropout off (hidden and attention dropout 0): with dropout the two ranks
would draw different masks than one process does, and the runs could not be compared."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("safetensors")

distributed = pytest.importorskip("torch.distributed")
if not distributed.is_available() or not distributed.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

from helpers import REPO_ROOT, tiny_cloze_source  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

SOURCE = tiny_cloze_source()
POSITIVE = ["the film was great", "great phone and good battery", "the acting was good", "the battery lasts for days"]
NEGATIVE = ["a terrible plot", "bad dialogue and bad acting", "the zipper broke, terrible quality", "a waste of time"]
WEIGHT_ATOL = 1e-5
MEASURED: dict[str, float] = {}


def sentiment_rows(n: int) -> list[dict[str, str]]:
    rng = random.Random(0)
    rows = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        # lengths vary, so the two ranks pad their halves of a batch to different widths
        words = " ".join(rng.choice(POSITIVE if label == "positive" else NEGATIVE) for _ in range(1 + i % 3))
        rows.append({"sentence": f"{words} {i}", "label": label})
    return rows


def env(tmp: Path) -> dict[str, str]:
    drop = {"LGPT_DEBUG", "WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "LOCAL_WORLD_SIZE"}
    values = {k: v for k, v in os.environ.items() if k not in drop}
    tmp.mkdir(parents=True, exist_ok=True)
    values.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        NO_COLOR="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONDONTWRITEBYTECODE="1",
        TMPDIR=str(tmp),  # where rank 1 puts its compiled rows: checked for leftovers
        CUDA_VISIBLE_DEVICES="",
    )
    return values


@dataclass
class Setup:
    folder: Path
    lgpt: Path
    data: Path
    model: str  # the tiny BERT without dropout
    dropout_model: str  # the tiny BERT as built (dropout 0.1)

    def args(self, run: Path | None, *extra: str, processes: int = 2, data: Path | None = None) -> list[str]:
        start = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
        command = [*(start if processes > 1 else [sys.executable]), "-m", "langgpt.cli"]
        rows = str(data or self.data)
        output = ["-o", str(run)] if run is not None else []
        return [*command, "run", str(self.lgpt), "--train", rows, "--eval", rows, *output, "-q", *extra]


@dataclass
class Done:
    run: Path
    code: int
    stdout: str
    stderr: str
    tmp: Path

    @property
    def both(self) -> str:
        return self.stdout + self.stderr


def finish(args: list[str], run: Path, tmp: Path, cwd: Path = REPO_ROOT, timeout: float = 300) -> Done:
    proc = subprocess.run(
        args, cwd=cwd, env=env(tmp), capture_output=True, text=True, encoding="utf-8", timeout=timeout
    )
    return Done(run, proc.returncode, proc.stdout, proc.stderr, tmp)


def train(setup: Setup, name: str, *extra: str, processes: int = 2, data: Path | None = None) -> Done:
    base = setup.folder / name
    run = base / "run"
    done = finish(setup.args(run, *extra, processes=processes, data=data), run, base / "tmp")
    return done


def weights(run: Path) -> dict[str, Any]:
    return dict(load_file(str(run / "weights.safetensors")))


def max_difference(a: Path, b: Path) -> float:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    return max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa)


def metrics(run: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    return data


def log(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text(encoding="utf-8").splitlines()]


def files(run: Path) -> list[str]:
    return sorted(p.relative_to(run).as_posix() for p in run.rglob("*"))


def assert_ok(done: Done) -> None:
    assert done.code == 0, done.both[-4000:]
    assert "Traceback" not in done.both and "internal error" not in done.both, done.both[-4000:]


def assert_same_training(ddp: Path, single: Path, key: str) -> None:
    """Weights allclose, the same loss log (rel 1e-4), the same accuracy and predictions."""
    difference = max_difference(ddp, single)
    MEASURED[key] = difference
    print(f"\n{key}: max |weight difference| DDP vs 1 process = {difference:.3g}")
    mine, theirs = weights(ddp), weights(single)
    for name in mine:
        torch.testing.assert_close(mine[name], theirs[name], atol=WEIGHT_ATOL, rtol=0, msg=name)
    got, want = log(ddp), log(single)
    assert [r["step"] for r in got] == [r["step"] for r in want]
    assert [r["lr"] for r in got] == [r["lr"] for r in want]
    for a, b in zip(got, want, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4), f"step {a['step']}"
    assert metrics(ddp)["accuracy"] == metrics(single)["accuracy"]
    assert metrics(ddp)["macro_f1"] == pytest.approx(metrics(single)["macro_f1"], abs=1e-9)
    assert metrics(ddp)["before"] == metrics(single)["before"]
    assert metrics(ddp)["train"]["steps"] == metrics(single)["train"]["steps"]
    assert metrics(ddp)["train"]["examples"] == metrics(single)["train"]["examples"]


def latest_step(run: Path) -> int:
    try:
        return int(json.loads((run / "checkpoints" / "latest.json").read_text())["step"])
    except FileNotFoundError:
        return -1


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (torchrun starts each rank in a session of its own, so a process
    group kill does not reach them)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def kill_distributed_run(setup: Setup, run: Path, tmp: Path, at_least: int, *extra: str) -> int:
    """Start a 2-process run and SIGKILL torchrun and both ranks once checkpoint ``at_least`` exists;
    returns the step the kill left."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("finding torchrun's workers needs /proc")
    logs = tmp / "killed.log"
    tmp.mkdir(parents=True, exist_ok=True)
    with logs.open("w") as out:
        proc = subprocess.Popen(setup.args(run, *extra), cwd=REPO_ROOT, env=env(tmp), stdout=out, stderr=out)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 240
        while latest_step(run) < at_least:
            assert proc.poll() is None, f"the run ended before checkpoint {at_least}:\n{logs.read_text()}"
            assert time.monotonic() < deadline, logs.read_text()
            time.sleep(0.002)
    finally:
        workers = descendants(proc.pid)  # before torchrun dies and they are re-parented
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait(timeout=30)
    assert len(workers) >= 2, workers
    deadline = time.monotonic() + 30
    while not all(gone(pid) for pid in workers):
        assert time.monotonic() < deadline, "the ranks outlived SIGKILL"
        time.sleep(0.01)
    assert not (run / "metrics.json").exists()
    return latest_step(run)


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def setup(bert_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    folder = tmp_path_factory.mktemp("ddp")
    model = folder / "bert-no-dropout"
    shutil.copytree(bert_dir, model)
    config = json.loads((model / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (model / "config.json").write_text(json.dumps(config, indent=2))
    lgpt = folder / "tiny.lgpt"
    lgpt.write_text(SOURCE, encoding="utf-8")
    data = folder / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in sentiment_rows(48)), encoding="utf-8")
    return Setup(folder, lgpt, data, str(model), bert_dir)


@pytest.fixture(scope="module")
def batch8(setup: Setup) -> tuple[Done, Done]:
    """24 steps of a global batch of 8 (4 + 4 examples per rank), in 2 processes and in 1."""
    extra = ("--model", setup.model, "--method", "full", "--batch-size", "8", "--save-every", "2")
    return train(setup, "ddp8", *extra), train(setup, "one8", *extra, processes=1)


# ----------------------------------------------------------------------------- same update as one process


def test_two_processes_train_what_one_process_trains(batch8: tuple[Done, Done]) -> None:
    ddp, single = batch8
    assert_ok(ddp)
    assert_ok(single)
    assert metrics(ddp.run)["train"]["steps"] == 24
    assert_same_training(ddp.run, single.run, "batch 8 (4 + 4)")


def test_only_rank_0_writes_the_run_directory(batch8: tuple[Done, Done]) -> None:
    ddp, single = batch8
    assert_ok(ddp)
    assert files(ddp.run) == files(single.run)  # no extra files, no leftover temporaries
    assert not any(p.name.endswith(".tmp") for p in ddp.run.rglob("*"))
    for name in ("config.json", "labels.json", "verbalizer.json", "before.json"):
        assert (ddp.run / name).read_bytes() == (single.run / name).read_bytes(), name
    for name in ("train.jsonl", "eval.jsonl"):
        assert (ddp.run / "data" / name).read_bytes() == (single.run / "data" / name).read_bytes(), name
    lines = (ddp.run / "train_log.jsonl").read_text().splitlines()
    assert len(lines) == len(set(lines)) == len(log(single.run))  # one writer: no duplicated records


def test_other_ranks_leave_no_temporary_folders(batch8: tuple[Done, Done]) -> None:
    """Rank 1 compiles its rows to a scratch folder (in TMPDIR) and removes it."""
    ddp, _ = batch8
    assert_ok(ddp)
    leftovers = sorted(p.name for p in ddp.tmp.glob("lgpt-rank-*"))
    assert leftovers == []


def test_results_are_printed_once(batch8: tuple[Done, Done]) -> None:
    ddp, single = batch8
    assert_ok(ddp)
    assert single.both.count("steps in") == 1  # the summary line (stderr)
    assert ddp.both.count("steps in") == 1, ddp.both


def test_odd_global_batch_matches_one_process(setup: Setup) -> None:
    """A global batch of 7 (4 + 3 examples per rank; the last of an epoch 3 + 3): the loss is divided by
    the global count, not averaged per rank, so the update is still the one-process update."""
    extra = ("--model", setup.model, "--method", "full", "--batch-size", "7")
    ddp, single = train(setup, "ddp7", *extra), train(setup, "one7", *extra, processes=1)
    assert_ok(ddp)
    assert_ok(single)
    assert metrics(ddp.run)["train"]["steps"] == 28  # ceil(48 / 7) = 7 per epoch
    assert_same_training(ddp.run, single.run, "batch 7 (4 + 3)")


def test_a_last_batch_smaller_than_the_world_size(setup: Setup) -> None:
    rows = setup.folder / "rows49.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in sentiment_rows(49)), encoding="utf-8")
    extra = ("--model", setup.model, "--method", "full", "--batch-size", "8", "--epochs", "1")
    ddp = train(setup, "ddp49", *extra, data=rows)
    assert_ok(ddp)
    single = train(setup, "one49", *extra, processes=1, data=rows)
    assert_ok(single)
    assert_same_training(ddp.run, single.run, "49 rows, batch 8")


def test_default_run_directory_is_shared_by_the_ranks(setup: Setup) -> None:
    cwd = setup.folder / "default-dir"
    cwd.mkdir()
    extra = ("--model", setup.model, "--method", "full", "--batch-size", "8", "--epochs", "1")
    done = finish(setup.args(None, *extra), cwd / "runs", setup.folder / "default-dir-tmp", cwd=cwd)
    assert_ok(done)
    assert sorted(p.name for p in (cwd / "runs").iterdir()) == ["tiny"]
    assert (cwd / "runs" / "tiny" / "metrics.json").exists()


# ----------------------------------------------------------------------------- kill and resume


def test_killed_distributed_run_resumes_to_the_same_weights(setup: Setup, batch8: tuple[Done, Done]) -> None:
    reference, _ = batch8
    assert_ok(reference)
    extra = ("--model", setup.model, "--method", "full", "--batch-size", "8", "--save-every", "2")
    base = setup.folder / "ddp8-killed"
    run = base / "run"
    step = kill_distributed_run(setup, run, base / "tmp", random.choice([4, 6, 8]), *extra)
    resumed = finish(setup.args(run, *extra, "--resume"), run, base / "tmp")
    assert_ok(resumed)
    assert metrics(run)["train"]["resumed_from"] == step
    difference = max_difference(run, reference.run)
    MEASURED["DDP resumed vs DDP uninterrupted (no dropout)"] = difference
    print(f"\nDDP killed at step {step} and resumed: max |weight difference| = {difference:.3g}")
    assert difference == 0.0
    assert metrics(run)["accuracy"] == metrics(reference.run)["accuracy"]
    assert [r["step"] for r in log(run)] == [r["step"] for r in log(reference.run)]


def test_killed_distributed_run_with_dropout_resumes_to_the_same_weights(setup: Setup) -> None:
    extra = ("--model", setup.dropout_model, "--method", "full", "--batch-size", "8", "--save-every", "2")
    reference = train(setup, "ddp-dropout", *extra)
    assert_ok(reference)
    base = setup.folder / "ddp-dropout-killed"
    run = base / "run"
    step = kill_distributed_run(setup, run, base / "tmp", 4, *extra)
    resumed = finish(setup.args(run, *extra, "--resume"), run, base / "tmp")
    assert_ok(resumed)
    assert metrics(run)["train"]["resumed_from"] == step
    difference = max_difference(run, reference.run)
    print(f"\nDDP with dropout killed at step {step} and resumed: max |weight difference| = {difference:.3g}")
    assert difference == 0.0
