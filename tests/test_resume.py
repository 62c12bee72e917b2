"""``lgpt run`` survives being killed: SIGKILL at random points (also before the first checkpoint and
before the run directory is set up), Ctrl-C, and repeated kills; ``--resume`` then ends with exactly
the weights, metrics and step log of an uninterrupted run. Every file a kill leaves behind is complete
(atomic writes), and ``--resume`` refuses changed settings or sources. Also: SIGKILL during
``lgpt compile --target dataset -o`` leaves the old output or the new one, never a partial file.

Each run is a real process (``python -m langgpt.cli run ...``) on a tiny BERT with
dropout (hidden_dropout_prob 0.1), so resuming must restore the random state too. Runs use one thread
(OMP_NUM_THREADS=1): bitwise equality of weights across processes needs the same reduction order."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from helpers import REPO_ROOT, tiny_cloze_source  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

LGPT = [sys.executable, "-m", "langgpt.cli"]
#: 48 rows, batch 4, 4 epochs: 48 steps, a checkpoint every 2 (--save-every 2), a log record every 5
STEPS = 48
SOURCE = tiny_cloze_source(batch_size=4)
POSITIVE = [
    "the film was great",
    "great phone and good battery",
    "the acting was good",
    "a great review of a good film",
    "good quality and great service",
    "the battery lasts for days",
]
NEGATIVE = [
    "a terrible plot",
    "bad dialogue and bad acting",
    "the zipper broke, terrible quality",
    "a waste of time",
    "terrible service and bad quality",
    "the phone broke after days",
]


def sentiment_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        words = rng.choice(POSITIVE if label == "positive" else NEGATIVE)
        rows.append({"sentence": f"{words}, {rng.choice(['review', 'film', 'phone'])} {i}", "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def env() -> dict[str, str]:
    drop = {"LGPT_DEBUG", "WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}
    values = {k: v for k, v in os.environ.items() if k not in drop}
    values.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        NO_COLOR="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return values


@dataclass
class Setup:
    lgpt: Path
    data: Path
    model: str

    def args(self, run: Path, *extra: str, save_every: int = 2) -> list[str]:
        return [
            *LGPT,
            "run",
            str(self.lgpt),
            "--train",
            str(self.data),
            "--eval",
            str(self.data),
            "-o",
            str(run),
            "--model",
            self.model,
            "--save-every",
            str(save_every),
            "-q",
            *extra,
        ]


def finish(args: list[str], cwd: Path = REPO_ROOT, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True, encoding="utf-8", timeout=timeout)


class Proc:
    """A run in the background, its output in files (no pipe to fill up)."""

    def __init__(self, args: list[str], logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = logs / "stdout.txt", logs / "stderr.txt"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.popen = subprocess.Popen(args, cwd=REPO_ROOT, env=env(), stdout=out, stderr=err)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_for(self, condition: Callable[[], bool], timeout: float = 120, interval: float = 0.002) -> bool:
        """Poll until ``condition`` holds (True) or the process ends first (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            if self.popen.poll() is not None:
                return condition()
            time.sleep(interval)
        raise AssertionError(f"timed out waiting; stderr:\n{self.stderr()}")

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        assert self.popen.returncode == -signal.SIGKILL, f"the run ended before the kill:\n{self.stderr()}"

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")


def latest_step(run: Path) -> int:
    """The step ``checkpoints/latest.json`` names (-1 without one)."""
    try:
        return int(json.loads((run / "checkpoints" / "latest.json").read_text())["step"])
    except FileNotFoundError:
        return -1


def past(run: Path, step: int) -> Callable[[], bool]:
    """A condition: latest.json names a step after ``step``."""
    return lambda: latest_step(run) > step


def kill_after_checkpoint(proc: Proc, run: Path, at_least: int, jitter: float) -> int:
    """SIGKILL ``proc`` ``jitter`` seconds after it wrote checkpoint ``at_least`` (or later); returns the
    step its latest.json names after the kill."""
    reached = proc.wait_for(lambda: latest_step(run) >= at_least)
    assert reached, f"the run ended before checkpoint {at_least}:\n{proc.stderr()}"
    time.sleep(jitter)
    proc.kill()
    return latest_step(run)


def metrics(run: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    return data


def log(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text(encoding="utf-8").splitlines()]


def max_weight_difference(a: Path, b: Path) -> float:
    wa, wb = load_file(str(a / "weights.safetensors")), load_file(str(b / "weights.safetensors"))
    assert wa.keys() == wb.keys()
    return max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa)


def assert_same_as_reference(run: Path, reference: Path) -> None:
    """Metrics (after and before), predictions, weights and the step log of ``run`` equal the reference's."""
    got, want = metrics(run), metrics(reference)
    assert got["accuracy"] == want["accuracy"]
    assert got["macro_f1"] == want["macro_f1"]
    assert got["report"] == want["report"]
    assert got["before"] == want["before"]
    assert got["train"]["steps"] + got["train"]["resumed_from"] == STEPS
    assert (run / "predictions.jsonl").read_bytes() == (reference / "predictions.jsonl").read_bytes()
    weights, expected = load_file(str(run / "weights.safetensors")), load_file(str(reference / "weights.safetensors"))
    assert weights.keys() == expected.keys()
    different = [k for k in weights if not torch.equal(weights[k], expected[k])]
    assert not different, f"{len(different)} tensors differ, max |diff| {max_weight_difference(run, reference)}"
    records, reference_records = log(run), log(reference)
    assert [r["step"] for r in records] == [r["step"] for r in reference_records]  # none repeated, none missing
    assert [r["lr"] for r in records] == [r["lr"] for r in reference_records]
    assert [r["epoch"] for r in records] == [r["epoch"] for r in reference_records]


def crash_problems(run: Path) -> list[str]:
    """What is incomplete in ``run`` after a kill: every JSON file parses, every safetensors file loads,
    latest.json names a complete checkpoint, staging folders are hidden ``.step-*.tmp`` ones."""
    problems: list[str] = []
    for path in sorted(run.rglob("*")):
        relative = path.relative_to(run)
        staging = [part for part in relative.parts if part.endswith(".tmp")]
        if staging:
            if not staging[0].startswith("."):
                problems.append(f"{relative}: a temporary whose name does not start with a dot")
            continue  # a staging file or folder: allowed to be partial
        if not path.is_file():
            continue
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".jsonl":
                for line in path.read_text(encoding="utf-8").splitlines():
                    json.loads(line)
            elif path.suffix == ".safetensors":
                load_file(str(path))
        except Exception as exc:  # any failure to read is the finding
            problems.append(f"{relative}: {type(exc).__name__}: {exc}")
    pointer = run / "checkpoints" / "latest.json"
    if pointer.exists():
        data = json.loads(pointer.read_text())
        folder = run / "checkpoints" / data["folder"]
        if folder.name.endswith(".tmp") or folder.name.startswith("."):
            problems.append(f"latest.json points to a staging folder {folder.name}")
        names = {"weights.safetensors", "optimizer.safetensors", "rng.safetensors", "state.json"}
        present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
        if not names <= present:
            problems.append(f"latest.json points to {folder.name}, which lacks {sorted(names - present)}")
        elif json.loads((folder / "state.json").read_text())["step"] != data["step"]:
            problems.append(f"{folder.name}/state.json disagrees with latest.json")
    for name in ("config.json", "source.json"):
        if (run / "checkpoints").exists() and not (run / name).exists():
            problems.append(f"checkpoints exist but {name} does not")
    return problems


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def setup(bert_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    folder = tmp_path_factory.mktemp("resume")
    lgpt = folder / "tiny.lgpt"
    lgpt.write_text(SOURCE, encoding="utf-8")
    return Setup(lgpt, write_jsonl(folder / "rows.jsonl", sentiment_rows(48)), bert_dir)


@pytest.fixture(scope="module")
def reference(setup: Setup, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run every interrupted one must end up equal to."""
    run = tmp_path_factory.mktemp("reference") / "run"
    done = finish(setup.args(run))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert metrics(run)["train"] == metrics(run)["train"] | {"steps": STEPS, "resumed_from": 0}
    assert [r["step"] for r in log(run)] == [5, 10, 15, 20, 25, 30, 35, 40, 45, 48]
    return run


@dataclass
class Killed:
    run: Path
    step: int  # the checkpoint the kill left
    problems: list[str]  # crash_problems right after the kill
    resume: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def killed_once(setup: Setup, reference: Path, tmp_path_factory: pytest.TempPathFactory) -> Killed:
    """One SIGKILL after a checkpoint whose step is not a multiple of log_every (5), then --resume.

    The process is frozen (SIGSTOP) as soon as latest.json says step >= 4, so the step the kill leaves is
    known; the kill itself lands wherever the frozen process was (maybe mid-checkpoint)."""
    base = tmp_path_factory.mktemp("killed")
    run = base / "run"
    proc = Proc(setup.args(run), base / "logs")
    step = -1
    while True:
        assert proc.wait_for(past(run, max(step, 3))), proc.stderr()
        os.kill(proc.pid, signal.SIGSTOP)
        step = latest_step(run)
        if step % 5:
            break
        os.kill(proc.pid, signal.SIGCONT)
    proc.kill()
    problems = crash_problems(run)
    assert not (run / "metrics.json").exists()
    return Killed(run, step, problems, finish(setup.args(run, "--resume")))


# ----------------------------------------------------------------------------- SIGKILL


def test_sigkill_then_resume_matches_reference(killed_once: Killed, reference: Path) -> None:
    assert killed_once.problems == []
    assert killed_once.resume.returncode == 0, killed_once.resume.stderr
    assert "Traceback" not in killed_once.resume.stderr
    assert metrics(killed_once.run)["train"]["resumed_from"] == killed_once.step
    assert_same_as_reference(killed_once.run, reference)
    # the records written before the checkpoint are kept as they were
    kept = [r for r in log(killed_once.run) if r["step"] <= killed_once.step]
    assert [(r["step"], r["loss"]) for r in kept] == [
        (r["step"], r["loss"]) for r in log(reference) if r["step"] <= killed_once.step
    ]


def test_resumed_train_log_losses_match_reference(killed_once: Killed, reference: Path) -> None:
    assert killed_once.resume.returncode == 0, killed_once.resume.stderr
    got, want = log(killed_once.run), log(reference)
    assert [r["step"] for r in got] == [r["step"] for r in want]
    for mine, theirs in zip(got, want, strict=True):
        assert mine["loss"] == pytest.approx(theirs["loss"], rel=0, abs=1e-6), f"step {mine['step']}"
    assert metrics(killed_once.run)["train"]["final_loss"] == pytest.approx(
        metrics(reference)["train"]["final_loss"], abs=1e-6
    )


def test_three_kills_at_random_checkpoints(setup: Setup, reference: Path, tmp_path: Path) -> None:
    """Kill -9 three times at random checkpoints (and a random few ms after them), resuming each time;
    before one resume a bogus staging folder is planted: it must not count as a checkpoint."""
    rng = random.Random(int.from_bytes(os.urandom(4), "little"))
    targets = sorted(rng.sample(range(4, 34, 2), 3))
    run = tmp_path / "run"
    seen: list[int] = []
    for kill, target in enumerate(targets):
        target = max(target, (seen[-1] if seen else 0) + 2)
        args = setup.args(run, *(["--resume"] if kill else []))
        proc = Proc(args, tmp_path / f"logs{kill}")
        step = kill_after_checkpoint(proc, run, target, jitter=rng.uniform(0, 0.02))
        assert crash_problems(run) == [], f"after kill {kill + 1} (targets {targets})"
        assert step >= target
        seen.append(step)
        if kill == 1:
            bogus = run / "checkpoints" / f".step-{STEPS - 2:07d}.bogus.tmp"
            bogus.mkdir()
            (bogus / "weights.safetensors").write_bytes(b"\x00" * 10)
            (bogus / "state.json").write_text('{"step": 46}')
    done = finish(setup.args(run, "--resume"))
    assert done.returncode == 0, done.stderr
    assert metrics(run)["train"]["resumed_from"] == seen[-1], f"kills left steps {seen} (targets {targets})"
    assert_same_as_reference(run, reference)
    assert not list((run / "checkpoints").glob(".*.tmp")), "a stale staging folder survived the resumed run"


def test_kill_before_the_first_checkpoint_resumes_from_step_0(setup: Setup, reference: Path, tmp_path: Path) -> None:
    """Killed in the first steps (no checkpoint yet: --save-every 1000): --resume trains from step 0
    (and may checkpoint differently: save_every is not part of what must match)."""
    run = tmp_path / "run"
    proc = Proc(setup.args(run, save_every=1000), tmp_path / "logs")
    assert proc.wait_for(lambda: (run / "before.json").exists()), proc.stderr()  # training starts now
    time.sleep(random.uniform(0, 0.02))
    proc.kill()
    assert latest_step(run) == -1 and not (run / "checkpoints").exists()
    assert crash_problems(run) == []
    done = finish(setup.args(run, "--resume"))
    assert done.returncode == 0, done.stderr
    assert metrics(run)["train"]["resumed_from"] == 0
    assert_same_as_reference(run, reference)


def test_kill_before_config_is_written_can_be_resumed(setup: Setup, reference: Path, tmp_path: Path) -> None:
    """Killed while compiling the data (data/ exists, config.json does not yet): --resume, as the
    interrupted-run hint says, must still give the reference result."""
    run = tmp_path / "run"
    proc = Proc(setup.args(run), tmp_path / "logs")
    assert proc.wait_for(lambda: (run / "data").exists(), interval=0.0005), proc.stderr()
    os.kill(proc.pid, signal.SIGSTOP)
    proc.kill()
    assert crash_problems(run) == []
    done = finish(setup.args(run, "--resume"))
    assert done.returncode == 0, done.stderr
    assert_same_as_reference(run, reference)


def test_run_directory_files_follow_the_umask(reference: Path) -> None:
    expected = (reference / "metrics.json").stat().st_mode & 0o777
    modes = {
        p.relative_to(reference).as_posix(): oct(p.stat().st_mode & 0o777) for p in reference.rglob("*") if p.is_file()
    }
    assert {name: mode for name, mode in modes.items() if mode != oct(expected)} == {}


# ----------------------------------------------------------------------------- Ctrl-C


@dataclass
class CtrlC:
    run: Path
    copy: Path  # the run directory as Ctrl-C left it, for a second resume
    code: int
    seconds: float  # from SIGINT to exit
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def ctrl_c(setup: Setup, tmp_path_factory: pytest.TempPathFactory) -> CtrlC:
    """A run interrupted by SIGINT right after its first checkpoint."""
    base = tmp_path_factory.mktemp("ctrl-c")
    run = base / "run"
    proc = Proc(setup.args(run), base / "logs")
    assert proc.wait_for(lambda: latest_step(run) >= 2), proc.stderr()
    sent = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    code = proc.popen.wait(timeout=30)
    took = time.monotonic() - sent
    copy = base / "copy"
    shutil.copytree(run, copy)
    return CtrlC(run, copy, code, took, proc.stdout(), proc.stderr())


def test_ctrl_c_saves_a_checkpoint_and_resume_matches(setup: Setup, reference: Path, ctrl_c: CtrlC) -> None:
    run, stderr = ctrl_c.run, ctrl_c.stderr
    assert ctrl_c.code == 130, stderr
    assert ctrl_c.seconds < 5, f"exited {ctrl_c.seconds:.1f} s after Ctrl-C"
    assert "Traceback" not in stderr + ctrl_c.stdout and "internal error" not in stderr
    assert "interrupted" in stderr and "--resume" in stderr
    match = re.search(r"interrupted at step (\d+)", stderr)
    assert match, stderr
    step = int(match.group(1))
    assert 2 <= step < STEPS
    assert latest_step(run) == step
    assert (run / "checkpoints" / f"step-{step:07d}" / "weights.safetensors").exists()
    assert f"{run}/checkpoints/step-{step:07d}" in stderr.replace("\n", "")
    assert crash_problems(run) == []
    assert not (run / "metrics.json").exists() and not (run / "weights.safetensors").exists()
    done = finish(setup.args(run, "--resume"))
    assert done.returncode == 0, done.stderr
    assert metrics(run)["train"]["resumed_from"] == step
    assert_same_as_reference(run, reference)


def test_ctrl_c_hint_is_a_command_that_resumes(reference: Path, ctrl_c: CtrlC) -> None:
    assert ctrl_c.code == 130, ctrl_c.stderr
    hint = next(line for line in ctrl_c.stderr.splitlines() if line.startswith("continue with: "))
    words = shlex.split(hint.removeprefix("continue with: "))
    assert words[:2] == ["lgpt", "run"] and words[words.index("-o") + 1] == str(ctrl_c.run)
    words[words.index("-o") + 1] = str(ctrl_c.copy)
    done = finish([*LGPT, *words[1:], "-q"])
    assert done.returncode == 0, done.stderr
    assert_same_as_reference(ctrl_c.copy, reference)


def test_ctrl_c_hint_names_a_run_directory_with_brackets(setup: Setup, tmp_path: Path) -> None:
    run = tmp_path / "run-[lora]"
    proc = Proc(setup.args(run), tmp_path / "logs")
    assert proc.wait_for(lambda: latest_step(run) >= 2), proc.stderr()
    os.kill(proc.pid, signal.SIGINT)
    assert proc.popen.wait(timeout=30) == 130, proc.stderr()
    stderr = proc.stderr()
    assert "Traceback" not in stderr
    assert f"checkpoint saved to {run}/checkpoints/" in stderr, stderr
    hint = shlex.split(stderr.split("continue with:", 1)[1].strip().splitlines()[0])
    assert hint[hint.index("-o") + 1] == str(run) and hint[-1] == "--resume", stderr


def test_second_ctrl_c_stops_at_once_and_leaves_a_resumable_run(setup: Setup, reference: Path, tmp_path: Path) -> None:
    """A second Ctrl-C raises KeyboardInterrupt wherever the loop is (maybe inside a checkpoint write)."""
    run = tmp_path / "run"
    proc = Proc(setup.args(run), tmp_path / "logs")
    assert proc.wait_for(lambda: latest_step(run) >= 4), proc.stderr()
    os.kill(proc.pid, signal.SIGINT)
    time.sleep(random.uniform(0.001, 0.01))
    os.kill(proc.pid, signal.SIGINT)
    code = proc.popen.wait(timeout=30)
    assert code == 130, proc.stderr()
    assert "Traceback" not in proc.stderr() + proc.stdout()
    assert crash_problems(run) == []
    step = latest_step(run)
    done = finish(setup.args(run, "--resume"))
    assert done.returncode == 0, done.stderr
    assert metrics(run)["train"]["resumed_from"] == step
    assert_same_as_reference(run, reference)


# ----------------------------------------------------------------------------- what --resume refuses


def test_resume_refuses_changed_settings(setup: Setup, reference: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    before = sorted(p.relative_to(run).as_posix() for p in run.rglob("*"))
    for extra, named in ((["--lr", "0.002"], "lr"), (["--batch-size", "8"], "batch_size"), (["--seed", "8"], "seed")):
        done = finish(setup.args(run, "--resume", *extra))
        assert done.returncode == 2, done.stderr
        assert "settings changed" in done.stderr and named in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*")) == before  # nothing written


def test_resume_refuses_a_changed_lgpt(setup: Setup, reference: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    original = setup.lgpt.read_text(encoding="utf-8")
    try:  # the same file, edited (not a copy: the file's name is part of the hash)
        setup.lgpt.write_text(original.replace('it was {answer}."', 'it was really {answer}."'), encoding="utf-8")
        done = finish(setup.args(run, "--resume"))
    finally:
        setup.lgpt.write_text(original, encoding="utf-8")
    assert done.returncode == 2, done.stderr
    assert "source changed" in done.stderr and "Traceback" not in done.stderr
    assert (run / "metrics.json").read_bytes() == (reference / "metrics.json").read_bytes()


def test_resume_refuses_different_training_data(setup: Setup, reference: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    other = write_jsonl(tmp_path / "other.jsonl", sentiment_rows(48, seed=99))
    args = setup.args(run, "--resume")
    args[args.index("--train") + 1] = str(other)
    done = finish(args)
    assert done.returncode == 2, done.stderr


def test_resume_from_another_working_directory(setup: Setup, reference: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    done = finish(setup.args(run, "--resume"), cwd=tmp_path)  # every path is absolute
    assert done.returncode == 0, done.stderr
    assert_same_as_reference(run, reference)


def test_module_entry_point_knows_run() -> None:
    """`python -m langgpt.cli` runs cli.py as __main__; the runtime commands must still be there."""
    done = finish([sys.executable, "-m", "langgpt.cli", "run", "--help"])
    assert done.returncode == 0, done.stderr
    assert "--resume" in done.stdout


# ----------------------------------------------------------------------------- dataset -o under SIGKILL


@pytest.fixture(scope="module")
def big_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 rows: the repository's sentiment rows repeated with a number each."""
    source = REPO_ROOT / "prompts" / "data" / "sentiment_train.jsonl"
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    many = [{**rows[i % len(rows)], "sentence": f"{rows[i % len(rows)]['sentence']} (#{i})"} for i in range(20_000)]
    return write_jsonl(tmp_path_factory.mktemp("big") / "rows.jsonl", many)


def writing(folder: Path) -> bool:
    """A temporary output file with something in it exists in ``folder``."""
    for path in folder.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):  # renamed into place meanwhile
            if path.stat().st_size > 0:
                return True
    return False


def test_sigkill_during_dataset_compile_leaves_old_or_new_output(big_rows: Path, tmp_path: Path) -> None:
    def compile_args(data: Path, out: Path) -> list[str]:
        return [
            *LGPT,
            "compile",
            "prompts/sentiment.lgpt",
            "-t",
            "dataset",
            "--entry",
            "classify_text",
            "--data",
            str(data),
            "-o",
            str(out),
        ]

    small = write_jsonl(tmp_path / "small.jsonl", [json.loads(line) for line in big_rows.open()][:50])
    old_path, new_path = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    assert finish(compile_args(small, old_path)).returncode == 0
    started = time.monotonic()
    assert finish(compile_args(big_rows, new_path)).returncode == 0
    full = time.monotonic() - started
    old, new = old_path.read_bytes(), new_path.read_bytes()
    assert old != new and new.count(b"\n") == 20_000

    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "out.jsonl"
    rng = random.Random(int.from_bytes(os.urandom(4), "little"))
    outcomes: list[str] = []
    leftovers: list[str] = []
    for kill in range(10):
        out.write_bytes(old)
        for stale in folder.iterdir():  # start each try from the old output alone
            if stale != out:
                stale.unlink()
        proc = Proc(compile_args(big_rows, out), tmp_path / f"logs{kill}")
        if kill % 2:  # at a random moment of the whole run
            time.sleep(rng.uniform(0, full))
        else:  # while the temporary file is being written
            proc.wait_for(lambda: writing(folder))
            time.sleep(rng.uniform(0, 0.05))
        os.kill(proc.pid, signal.SIGKILL)
        proc.popen.wait(timeout=30)
        data = out.read_bytes()
        assert data in (old, new), f"kill {kill}: out.jsonl is neither the old nor the new output ({len(data)} bytes)"
        outcomes.append("new" if data == new else "old")
        others = sorted(p.name for p in folder.iterdir() if p != out)
        assert all(name.startswith(".out.jsonl.") and name.endswith(".tmp") for name in others), others
        leftovers.extend(others)
    print(f"\ndataset kills: {outcomes}; temporaries left behind: {len(leftovers)} {leftovers}")
    assert "old" in outcomes  # at least one kill landed before the rename
    # a complete run afterwards writes the new output; it does not clear temporaries of killed runs
    remaining = sorted(p.name for p in folder.iterdir() if p != out)
    assert finish(compile_args(big_rows, out)).returncode == 0
    assert out.read_bytes() == new
    assert sorted(p.name for p in folder.iterdir() if p != out) == remaining
