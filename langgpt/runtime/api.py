"""``run``, ``evaluate`` and ``predict``: the runtime's jobs, each one call (and one CLI command).

A run directory holds::

    config.json           resolved settings (train block < soft_prompt block < flags)
    source.json           the .lgpt file, its SHA-256 over every imported source, the data files
    labels.json           class names or tags, in the order of the model's outputs
    verbalizer.json       the compiled verbalizer (prompt-based classification)
    data/                 the compiled rows the model saw (train.jsonl, eval.jsonl, rejects)
    checkpoints/          step-N folders and latest.json (see langgpt.runtime.checkpoint)
    train_log.jsonl       step, epoch, loss, learning rate, steps/s
    loss.png              the loss curve
    weights.safetensors   the trained parameters of the task model (everything --run needs)
    adapter/              the PEFT adapter (lora and prompt methods), loadable with peft
    metrics.json          after training (top-level accuracy/macro_f1, f1, or bleu/chrf) and before
    predictions.jsonl     one record per evaluation row

Every file is written atomically; a run killed at any point can be continued with ``resume=True``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from langgpt.atomic import write_text
from langgpt.errors import DiagnosticError, UsageError
from langgpt.loader import Program
from langgpt.records import Record
from langgpt.runtime.settings import RunSettings, resolve, source_hash

Printer = Callable[[str], None]


class RunResult(Record):
    run_dir: Path | None
    settings: dict[str, Any]
    task: str
    labels: tuple[str, ...]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    steps: int
    seconds: float
    resumed_from: int
    train_examples: int
    eval_examples: int
    trainable_parameters: int
    total_parameters: int
    predictions: Path | None = None


# ----------------------------------------------------------------------------- shared setup


def _program(file: str | Path | Program, root: Path | None) -> Program:
    from langgpt.compiler import check, load

    program = file if isinstance(file, Program) else load(file, root=root)
    errors = [d for d in check(program) if d.is_error]
    if errors:
        raise DiagnosticError(errors)
    return program


class _Session:
    """What every job needs: the program, settings, tokenizer, how the model reads answers."""

    def __init__(self, program: Program, settings: RunSettings, trust_remote_code: bool) -> None:
        from transformers import AutoConfig

        from langgpt.hf import load_tokenizer, quiet_environment, resolve_model
        from langgpt.runtime.models import classify_mode, generation_kind

        quiet_environment()
        self.program = program
        self.settings = settings
        self.trust_remote_code = trust_remote_code
        if settings.threads:
            import torch

            torch.set_num_threads(settings.threads)
        self.tokenizer = load_tokenizer(settings.model, trust_remote_code)
        if not getattr(self.tokenizer, "is_fast", False):
            raise UsageError(f"`{settings.model}` has no fast tokenizer (tokenizer.json); lgpt run needs one")
        self.config = AutoConfig.from_pretrained(resolve_model(settings.model), trust_remote_code=trust_remote_code)
        task = settings.task
        if task == "classify":
            self.mode = classify_mode(settings, self.config)
        elif task == "generate":
            self.mode = generation_kind(self.config)
        else:
            self.mode = "tagger"
        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self.pad_id = int(pad if pad is not None else 0)

    def label_words(self, labels: tuple[str, ...]) -> list[list[str]]:
        """Per label, its verbalizer words (the label names without a verbalizer block)."""
        from langgpt.targets.verbalizer import find_block, spec_of

        if not any(b.kind == "verbalizer" for b in self.program.document.configs()):
            return [[name] for name in labels]
        module, block = find_block(self.program, "verbalizer", None)
        words = spec_of(module, block).words()
        return [[w for w in words.get(name, (name,)) if w.strip()] or [name] for name in labels]

    def word_ids(self, labels: tuple[str, ...]) -> tuple[list[list[list[int]]] | None, str | None]:
        """Per label, per word, the token ids scored (and the compiled verbalizer's JSON)."""
        if self.settings.task != "classify" or self.mode == "plain":
            return None, None
        from langgpt.targets.verbalizer import compile_verbalizer, word_token_ids

        has_block = any(b.kind == "verbalizer" for b in self.program.document.configs())
        if not has_block:  # the label names themselves are the words
            return [[list(word_token_ids(self.tokenizer, name)[1][:1])] for name in labels], None
        result = compile_verbalizer(self.program, tokenizer=self.tokenizer, model=self.settings.model)
        if result.label_names() != labels:
            raise UsageError(f"the verbalizer's labels {result.label_names()} differ from the template's {labels}")
        return [[list(ids) for ids in label] for label in result.used_ids()], result.output

    def data(
        self,
        path: Path,
        split: str,
        work: Path,
        *,
        labels: tuple[str, ...] | None = None,
        skip_bad: bool = False,
        limit: int | None = None,
        answers: bool = True,
    ) -> Any:
        from langgpt.runtime.examples import load_task_data

        if not path.exists():
            raise UsageError(f"no such data file: {path}")
        return load_task_data(
            self.program,
            self.settings,
            path,
            split=split,
            tokenizer=self.tokenizer,
            mode=self.mode,
            work=work,
            labels=labels,
            skip_bad=skip_bad,
            limit=limit,
            answers=answers,
        )

    def model(self, labels: tuple[str, ...], word_ids: list[list[list[int]]] | None) -> Any:
        from langgpt.runtime.models import build_model

        words = self.label_words(labels) if self.settings.task == "classify" else None
        return build_model(
            self.settings,
            self.tokenizer,
            labels=labels,
            word_ids=word_ids,
            words=words,
            trust_remote_code=self.trust_remote_code,
        )

    def evaluate(self, built: Any, data: Any, progress: bool) -> Any:
        from langgpt.runtime.evaluate import evaluate

        with _EvalBar(progress, len(data.examples), data.split) as bar:
            return evaluate(
                built,
                data,
                pad_id=self.pad_id,
                tokenizer=self.tokenizer,
                batch_size=self.settings.eval_batch_size,
                max_new_tokens=self.settings.max_new_tokens,
                progress=bar.advance,
            )


# ----------------------------------------------------------------------------- run


def run(
    file: str | Path | Program,
    *,
    train: Path | None = None,
    eval: Path | None = None,
    output: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    resume: bool = False,
    skip_bad: bool = False,
    progress: bool = True,
    trust_remote_code: bool = False,
    root: Path | None = None,
    say: Printer | None = None,
) -> RunResult:
    """Train on ``train``, evaluating on ``eval`` before and after; everything lands in the run
    directory ``output`` (default ``runs/<file stem>``, numbered when taken). ``resume`` continues an
    interrupted run in ``output`` from its last checkpoint. Raises DiagnosticError, UsageError, or
    ``langgpt.runtime.loop.Interrupted`` after Ctrl-C (a checkpoint was saved)."""
    from langgpt.runtime.loop import Dist

    program = _program(file, root)
    dist = Dist()
    dist.start()
    say = say if say is not None and dist.main else (lambda text: None)
    try:
        if resume:
            run_dir = _resumable(output)
            settings, train, eval = _resumed_settings(program, run_dir, overrides, train, eval)
        else:
            settings = resolve(program, overrides)
            run_dir = Path(dist.share_text(str(_new_run_dir(program, output)) if dist.main else None))
        if train is None:
            raise UsageError("lgpt run needs --train DATA")
        meta = {
            "source_sha256": source_hash(program),
            "data_sha256": _data_hash(train),
            "training": settings.training_key(),
        }
        if resume:
            _check_resumable(run_dir, meta)
        elif dist.main:
            _write_start(run_dir, program, settings, meta, train, eval)
        try:
            return _run_in(
                program, settings, run_dir, dist, meta, train, eval, resume, skip_bad, progress, trust_remote_code, say
            )
        except (UsageError, DiagnosticError):
            # bad data or an unusable model: nothing was trained, so leave nothing that blocks a rerun
            if not resume and dist.main and not (run_dir / "checkpoints").exists():
                _empty(run_dir, remove=output is None or output != run_dir or not any(run_dir.iterdir()))
            raise
    finally:
        dist.stop()


def _run_in(
    program: Program,
    settings: RunSettings,
    run_dir: Path,
    dist: Any,
    meta: dict[str, Any],
    train: Path,
    eval: Path | None,
    resume: bool,
    skip_bad: bool,
    progress: bool,
    trust_remote_code: bool,
    say: Printer,
) -> RunResult:
    from langgpt.runtime.loop import train as train_loop

    session = _Session(program, settings, trust_remote_code)
    # only rank 0 writes the run directory; the other ranks compile their rows to a scratch folder
    scratch = None if dist.main else tempfile.TemporaryDirectory(prefix="lgpt-rank-")
    work = run_dir / "data" if scratch is None else Path(scratch.name)
    train_data = session.data(train, "train", work, skip_bad=skip_bad, limit=settings.limit)
    if not train_data.examples:
        raise UsageError(f"{train}: no training rows")
    labels = train_data.labels
    eval_data = None
    if eval is not None:
        eval_data = session.data(eval, "eval", work, labels=labels, skip_bad=skip_bad, limit=settings.eval_limit)
    word_ids, verbalizer = session.word_ids(labels)
    built = session.model(labels, word_ids)
    say(_describe(settings, session, built, train_data, eval_data, run_dir))
    if dist.main:
        _write_labels(run_dir, labels, verbalizer)
    before = _before(session, built, eval_data, run_dir, resume, progress) if dist.main else None
    result = train_loop(
        built.module,
        train_data.examples,
        settings,
        pad_id=session.pad_id,
        run_dir=run_dir,
        meta=meta,
        resume=resume,
        dist=dist,
        progress=progress,
    )
    after = None
    predictions = None
    if dist.main:
        _save_weights(run_dir, built)
        if eval_data is not None:
            evaluation = session.evaluate(built, eval_data, progress)
            after = evaluation.metrics
            predictions = run_dir / "predictions.jsonl"
            write_text(predictions, jsonl_text(evaluation.predictions))
        _write_metrics(run_dir, settings.task, before, after, result, train_data, eval_data)
        _plot(run_dir, program)
    dist.barrier()
    if scratch is not None:
        scratch.cleanup()
    return RunResult(
        run_dir=run_dir,
        settings=settings.as_dict(),
        task=settings.task,
        labels=labels,
        before=before,
        after=after,
        steps=result.steps,
        seconds=result.seconds,
        resumed_from=result.resumed_from,
        train_examples=len(train_data.examples),
        eval_examples=len(eval_data.examples) if eval_data is not None else 0,
        trainable_parameters=built.trainable_parameters(),
        total_parameters=built.total_parameters(),
        predictions=predictions,
    )


def _new_run_dir(program: Program, output: Path | None) -> Path:
    """``output`` (new or empty), or the first free ``runs/<stem>[-N]``; created here."""
    if output is not None:
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            raise UsageError(f"{output} already exists; pass --resume to continue that run, or choose another -o")
        output.mkdir(parents=True, exist_ok=True)
        return output
    stem = Path(program.main.name).stem
    base = Path("runs") / stem
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{stem}-{n}")
    candidate.mkdir(parents=True)
    return candidate


def _empty(run_dir: Path, remove: bool) -> None:
    for path in list(run_dir.iterdir()) if run_dir.exists() else []:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if remove:
        with contextlib.suppress(OSError):
            run_dir.rmdir()


def _resumable(output: Path | None) -> Path:
    if output is None:
        raise UsageError("--resume needs -o RUN_DIR: the run to continue")
    if not (output / "config.json").exists():
        raise UsageError(f"{output} is not a run directory (no config.json): nothing to resume")
    return output


def _resumed_settings(
    program: Program, run_dir: Path, overrides: Mapping[str, Any] | None, train: Path | None, eval: Path | None
) -> tuple[RunSettings, Path | None, Path | None]:
    """A resumed run's settings and data are the saved ones; a flag may repeat a setting, not change it."""
    saved = RunSettings.from_json((run_dir / "config.json").read_text(encoding="utf-8"))
    given = resolve(program, overrides)
    changed = sorted(
        key
        for key, value in (overrides or {}).items()
        if value is not None and key in saved.training_key() and getattr(given, key) != getattr(saved, key)
    )
    if changed:
        raise UsageError(f"cannot resume {run_dir}: settings changed since it started ({', '.join(changed)})")
    later = {k: getattr(given, k) for k in ("eval_batch_size", "eval_limit", "max_new_tokens", "log_every", "threads")}
    source = json.loads((run_dir / "source.json").read_text(encoding="utf-8"))
    if train is None and source.get("train"):
        train = Path(source["train"])
    if eval is None and source.get("eval"):
        eval = Path(source["eval"])
    return saved.replace(**{k: v for k, v in later.items() if (overrides or {}).get(k) is not None}), train, eval


def _data_hash(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_resumable(run_dir: Path, meta: dict[str, Any]) -> None:
    source = json.loads((run_dir / "source.json").read_text(encoding="utf-8"))
    if source.get("sha256") != meta["source_sha256"]:
        raise UsageError(f"cannot resume {run_dir}: the .lgpt source changed since it started")
    if source.get("train_sha256") != meta["data_sha256"]:
        raise UsageError(f"cannot resume {run_dir}: the training data differ from the run's ({source.get('train')})")


def _write_start(
    run_dir: Path, program: Program, settings: RunSettings, meta: dict[str, Any], train: Path, eval: Path | None
) -> None:
    """config.json and source.json come first: from then on the folder is a run that --resume can continue."""
    source = {
        "file": program.main.name,
        "sha256": meta["source_sha256"],
        "train": str(train),
        "train_sha256": meta["data_sha256"],
        "eval": str(eval) if eval is not None else None,
    }
    write_text(run_dir / "source.json", json.dumps(source, indent=2) + "\n")
    write_text(run_dir / "config.json", settings.to_json())


def _write_labels(run_dir: Path, labels: tuple[str, ...], verbalizer: str | None) -> None:
    write_text(run_dir / "labels.json", json.dumps(list(labels), ensure_ascii=False) + "\n")
    if verbalizer is not None:
        write_text(run_dir / "verbalizer.json", verbalizer)


def _before(
    session: _Session, built: Any, eval_data: Any, run_dir: Path, resume: bool, progress: bool
) -> dict[str, Any] | None:
    """Metrics of the untrained model (zero-/few-shot), computed once per run."""
    if eval_data is None:
        return None
    saved = run_dir / "before.json"
    if resume and saved.exists():
        data: dict[str, Any] = json.loads(saved.read_text(encoding="utf-8"))
        return data
    metrics: dict[str, Any] = session.evaluate(built, eval_data, progress).metrics
    write_text(saved, json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    return metrics


def _save_weights(run_dir: Path, built: Any) -> None:
    from langgpt.runtime.checkpoint import save_safetensors, trainable_state

    for stale in run_dir.glob(".weights.*.tmp"):  # left by a kill while saving
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=run_dir, prefix=".weights.", suffix=".tmp"))
    try:
        save_safetensors(trainable_state(built.module), staging / "weights.safetensors")
        if hasattr(built.backbone, "peft_config"):
            built.backbone.save_pretrained(str(staging / "adapter"))
        (staging / "weights.safetensors").replace(run_dir / "weights.safetensors")
        if (staging / "adapter").exists():
            old = run_dir / "adapter"
            if old.exists():
                shutil.rmtree(old)
            (staging / "adapter").replace(old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_metrics(
    run_dir: Path,
    task: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    result: Any,
    train_data: Any,
    eval_data: Any,
) -> None:
    metrics: dict[str, Any] = dict(after or {})
    metrics["task"] = task
    metrics["before"] = before
    metrics["train"] = {
        "steps": result.steps,
        "resumed_from": result.resumed_from,
        "seconds": round(result.seconds, 3),
        "steps_per_s": round(result.steps / result.seconds, 3) if result.seconds > 0 else None,
        "final_loss": result.final_loss,
        "examples": len(train_data.examples),
        "rejected": train_data.rejected,
        "shortened": train_data.shortened,
    }
    if eval_data is not None:
        metrics["eval"] = {
            "examples": len(eval_data.examples),
            "rejected": eval_data.rejected,
            "shortened": eval_data.shortened,
        }
    write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")


def _plot(run_dir: Path, program: Program) -> None:
    log_path = run_dir / "train_log.jsonl"
    log = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        from langgpt.runtime.plots import plot_loss
    except ImportError:  # pragma: no cover - matplotlib is part of the train extra
        return
    plot_loss(log, run_dir / "loss.png", f"{Path(program.main.name).name}: training loss")


def _describe(
    settings: RunSettings, session: _Session, built: Any, train_data: Any, eval_data: Any, run_dir: Path
) -> str:
    trainable, total = built.trainable_parameters(), built.total_parameters()
    lines = [
        f"run directory: {run_dir}",
        f"model: {settings.model} ({session.config.model_type}, {session.mode}), method: {settings.method}, task: {settings.task}",
        f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / max(1, total):.2f}%)",
        f"train: {len(train_data.examples):,} examples"
        + (f" ({train_data.rejected} rejected)" if train_data.rejected else "")
        + (f", eval: {len(eval_data.examples):,}" if eval_data is not None else ""),
        "settings: " + ", ".join(f"{k}={v}" for k, v in sorted(settings.as_dict().items()) if v not in (None, [], ())),
    ]
    return "\n".join(lines)


def jsonl_text(records: list[dict[str, Any]]) -> str:
    """Records as JSON lines (UTF-8 kept as is)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


class _EvalBar:
    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self.enabled = enabled and total > 0
        self.total = total
        self.label = label
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _EvalBar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn(f"[bold]evaluate ({self.label})"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("eval", total=self.total)
        return self

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


# ----------------------------------------------------------------------------- evaluate and predict


def evaluate(
    file: str | Path | Program,
    *,
    data: Path,
    run_dir: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    skip_bad: bool = False,
    progress: bool = True,
    trust_remote_code: bool = False,
    root: Path | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Metrics and predictions on ``data``: of a trained run (``run_dir``), or of the untrained model
    (zero-/few-shot prompting through the file's template and verbalizer)."""
    session, built, labels = _load(file, run_dir, overrides, trust_remote_code, root)
    with tempfile.TemporaryDirectory(prefix="lgpt-eval-") as scratch:
        eval_data = session.data(
            data,
            "eval",
            Path(scratch),
            labels=labels if session.settings.task == "ner" else None,
            skip_bad=skip_bad,
            limit=session.settings.eval_limit,
        )
        evaluation = session.evaluate(built, eval_data, progress)
    return evaluation.metrics, evaluation.predictions


def predict(
    file: str | Path | Program,
    *,
    run_dir: Path | None,
    data: Path | None = None,
    rows: list[dict[str, Any]] | None = None,
    overrides: Mapping[str, Any] | None = None,
    skip_bad: bool = False,
    progress: bool = True,
    trust_remote_code: bool = False,
    root: Path | None = None,
) -> list[dict[str, Any]]:
    """Predictions for every row of ``data`` (or for ``rows`` given as dicts of variable values)."""
    session, built, labels = _load(file, run_dir, overrides, trust_remote_code, root)
    with tempfile.TemporaryDirectory(prefix="lgpt-predict-") as scratch:
        if data is None:
            data = Path(scratch) / "rows.jsonl"
            data.write_text(jsonl_text(rows or []), encoding="utf-8")
        predict_data = session.data(
            data,
            "predict",
            Path(scratch),
            labels=labels if session.settings.task == "ner" else None,
            skip_bad=skip_bad,
            answers=False,
        )
        evaluation = session.evaluate(built, predict_data, progress)
    predictions: list[dict[str, Any]] = evaluation.predictions
    return predictions


def _load(
    file: str | Path | Program,
    run_dir: Path | None,
    overrides: Mapping[str, Any] | None,
    trust_remote_code: bool,
    root: Path | None,
) -> tuple[_Session, Any, tuple[str, ...] | None]:
    from langgpt.runtime.checkpoint import load_safetensors, load_trainable_state

    program = _program(file, root)
    if run_dir is None:
        settings = resolve(program, overrides)
        labels = None
    else:
        config = run_dir / "config.json"
        if not config.exists() or not (run_dir / "weights.safetensors").exists():
            raise UsageError(f"{run_dir} is not a finished run (no config.json or weights.safetensors)")
        settings = RunSettings.from_json(config.read_text(encoding="utf-8"))
        for key in ("eval_batch_size", "eval_limit", "max_new_tokens", "threads"):
            if overrides and overrides.get(key) is not None:
                settings = settings.replace(**{key: overrides[key]})
        labels = tuple(json.loads((run_dir / "labels.json").read_text(encoding="utf-8")))
    session = _Session(program, settings, trust_remote_code)
    if labels is None:
        labels = _labels_without_training(session)
        if session.settings.task == "ner":
            raise UsageError("ner has no untrained baseline to score: train first, then pass --run RUN_DIR")
    word_ids, _ = session.word_ids(labels) if labels else (None, None)
    built = session.model(labels or (), word_ids)
    if run_dir is not None:
        try:
            load_trainable_state(built.module, load_safetensors(run_dir / "weights.safetensors"))
        except ValueError as exc:
            raise UsageError(f"{run_dir}: {exc}") from None
    built.module.eval()
    return session, built, labels


def _labels_without_training(session: _Session) -> tuple[str, ...] | None:
    if session.settings.task == "classify":
        from langgpt.runtime.examples import class_names

        return class_names(session.program, session.settings)
    return None
