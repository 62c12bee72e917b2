"""The runtime's commands: ``lgpt run``, ``lgpt eval`` and ``lgpt predict`` (registered on the app of
``langgpt.cli``). Like the rest of the CLI they are thin: parse flags, call ``langgpt.runtime``, print.
torch, transformers and peft are imported only once one of these commands runs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from langgpt.cli import (
    EXIT_DIAGNOSTICS,
    _parse_vars,
    _print_diagnostics,
    _require_file,
    _sources_of,
    _stderr_console,
    _usage_error,
    app,
)
from langgpt.errors import DiagnosticError, UsageError

EXIT_INTERRUPTED = 130

ModelOpt = Annotated[
    str | None, typer.Option("--model", help="Model folder, `minilm` (the embedded default) or a cached hub name.")
]
MethodOpt = Annotated[
    str | None, typer.Option("--method", help="full | lora | prompt_tuning | prefix_tuning | p_tuning | bitfit")
]
TaskOpt = Annotated[str | None, typer.Option("--task", help="classify | ner | generate")]
EntryOpt = Annotated[str | None, typer.Option("--entry", "-e", help="The template rows are rendered through.")]
HeadOpt = Annotated[
    str | None, typer.Option("--head", help="classify: verbalizer (prompt-based, default) | plain (a fresh head)")
]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="KEY=VALUE for any train setting (e.g. warmup=0.1), repeatable.")
]
RootOpt = Annotated[Path | None, typer.Option("--root", help="Project root that imports and data paths stay inside.")]
TrustOpt = Annotated[
    bool, typer.Option("--trust-remote-code", help="Allow a model folder's own Python code (off by default).")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or settings summary.")]


def _overrides(sets: list[str] | None, **flags: Any) -> dict[str, Any]:
    values: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    for pair in sets or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            _usage_error(f"--set expects KEY=VALUE, got {pair!r}")
        values[key.strip().replace("-", "_")] = value.strip()
    return values


def _fail(exc: Exception) -> None:
    """Print a runtime error the way the rest of the CLI does and exit."""
    if isinstance(exc, UsageError):
        _usage_error(str(exc))
    if isinstance(exc, DiagnosticError):
        _print_diagnostics(exc.diagnostics, _sources_of(exc))
        raise typer.Exit(EXIT_DIAGNOSTICS)
    raise exc


def _table(title: str, task: str, columns: dict[str, dict[str, Any] | None]) -> None:
    """Headline metrics, one column per stage (before / after training)."""
    from rich.console import Console
    from rich.table import Table

    from langgpt.runtime.metrics import summary_rows

    shown = {name: dict(summary_rows(task, m)) for name, m in columns.items() if m}
    if not shown:
        return
    table = Table(title=title)
    table.add_column("metric")
    for name in shown:
        table.add_column(name, justify="right")
    names = list(dict.fromkeys(key for rows in shown.values() for key in rows))
    for key in names:
        table.add_row(key, *(_number(rows.get(key)) for rows in shown.values()))
    Console(highlight=False).print(table)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def _class_report(metrics: dict[str, Any] | None) -> None:
    report = (metrics or {}).get("report") or (metrics or {}).get("per_type")
    if not report:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="per class" if "report" in (metrics or {}) else "per entity type")
    for column in ("", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="right" if column else "left")
    for name, row in report.items():
        table.add_row(name, *(f"{row[k]:.4f}" for k in ("precision", "recall", "f1")), str(row["support"]))
    Console(highlight=False).print(table)


def _prompt_row(file: Path, prompt: str | None, var: list[str] | None, root: Path | None) -> dict[str, Any]:
    """One row of variable values from --var and --prompt (the template's one required input)."""
    values, _ = _parse_vars(var or [], None)
    if prompt is None:
        return values
    from langgpt.compiler import load

    program = load(file, root)
    answers = {
        m.value.name
        for t in program.document.templates()
        for m in t.members
        if m.key == "answer" and hasattr(m.value, "name")
    }
    inputs = [
        v
        for v in program.document.variables()
        if v.default is None and v.name not in values and v.name not in answers and v.type.name != "label"
    ]
    if len(inputs) != 1:
        names = ", ".join(v.name for v in inputs) or "none"
        _usage_error(f"--prompt fills the one input variable, but this file has {len(inputs)} ({names}); use --var")
    variable = inputs[0]
    values[variable.name] = prompt.split() if variable.type.name == "list" else prompt
    return values


@app.command("run")
def run_command(
    file: Annotated[Path, typer.Argument(help="The .lgpt file: template, verbalizer and train settings.")],
    train: Annotated[
        Path | None, typer.Option("--train", help="Training data: JSONL, CSV, TSV or CoNLL (ner).")
    ] = None,
    eval_data: Annotated[
        Path | None, typer.Option("--eval", help="Evaluation data, scored before and after training.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Run directory (default: runs/<file stem>).")
    ] = None,
    model: ModelOpt = None,
    method: MethodOpt = None,
    task: TaskOpt = None,
    entry: EntryOpt = None,
    head: HeadOpt = None,
    epochs: Annotated[float | None, typer.Option("--epochs")] = None,
    lr: Annotated[float | None, typer.Option("--lr")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Global batch size.")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    max_length: Annotated[int | None, typer.Option("--max-length")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Train on the first N rows.")] = None,
    eval_limit: Annotated[int | None, typer.Option("--eval-limit", help="Evaluate on the first N rows.")] = None,
    per_class: Annotated[
        int | None, typer.Option("--per-class", help="Few-shot: N training rows per class, drawn with --seed.")
    ] = None,
    save_every: Annotated[int | None, typer.Option("--save-every", help="Checkpoint every N steps.")] = None,
    sets: SetOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in -o from its last checkpoint.")] = False,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Put bad rows in a rejects file (data/) instead of stopping.")
    ] = False,
    prompt: Annotated[
        str | None, typer.Option("--prompt", help="Predict for this one input (with --run, or zero-shot).")
    ] = None,
    var: Annotated[list[str] | None, typer.Option("--var", help="NAME=VALUE for a --prompt prediction.")] = None,
    run_dir: Annotated[Path | None, typer.Option("--run", help="A finished run to predict with (--prompt).")] = None,
    root: RootOpt = None,
    trust_remote_code: TrustOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train FILE's task on --train, evaluating on --eval before and after (or predict one --prompt)."""
    _require_file(file)
    overrides = _overrides(
        sets,
        model=model,
        method=method,
        task=task,
        entry=entry,
        head=head,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        max_length=max_length,
        limit=limit,
        eval_limit=eval_limit,
        per_class=per_class,
        save_every=save_every,
    )
    if prompt is not None or (var and train is None):
        _predict_one(file, _prompt_row(file, prompt, var, root), run_dir, overrides, root, trust_remote_code)
        return
    if train is None and not resume:
        _usage_error("lgpt run needs --train DATA (or --prompt TEXT for a single prediction)")
    from rich.markup import escape

    from langgpt.runtime.api import run
    from langgpt.runtime.loop import Interrupted

    console = _stderr_console()
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    try:
        result = run(
            file,
            train=train,
            eval=eval_data,
            output=output,
            overrides=overrides,
            resume=resume,
            skip_bad=skip_bad,
            progress=not quiet,
            trust_remote_code=trust_remote_code,
            root=root,
            say=None if quiet else (lambda text: console.print(escape(text))),
        )
    except Interrupted as exc:
        if main_rank:
            where = f" to {exc.checkpoint}" if exc.checkpoint else ""
            console.print(f"[bold yellow]interrupted[/] at step {exc.step}; checkpoint saved{escape(where)}.")
            target = exc.checkpoint.parent.parent if exc.checkpoint is not None else output
            if target is not None:
                console.print(f"continue with: {escape(_resume_command(target))}")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (UsageError, DiagnosticError) as exc:
        _fail(exc)
        return
    if not main_rank:
        return
    _table(
        f"{file.name}: {result.task}", result.task, {"before training": result.before, "after training": result.after}
    )
    if not quiet:
        _class_report(result.after)
    done = "resumed at step " + str(result.resumed_from) + ", " if result.resumed_from else ""
    console.print(
        f"{done}{result.steps} steps in {result.seconds:.1f} s ({result.steps / max(result.seconds, 1e-9):.1f} steps/s); "
        f"run directory: {escape(str(result.run_dir))}"
    )


def _resume_command(run_dir: Path) -> str:
    """This very command with ``-o RUN_DIR --resume`` (the run's settings are read from it anyway)."""
    import shlex

    args = list(sys.argv[1:])
    if "-o" not in args and "--output" not in args:
        args += ["-o", str(run_dir)]
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join(["lgpt", *args])


def _predict_one(
    file: Path,
    row: dict[str, Any],
    run_dir: Path | None,
    overrides: dict[str, Any],
    root: Path | None,
    trust_remote_code: bool,
) -> None:
    from langgpt.runtime.api import predict

    try:
        predictions = predict(
            file,
            run_dir=run_dir,
            rows=[row],
            overrides=overrides,
            progress=False,
            root=root,
            trust_remote_code=trust_remote_code,
        )
    except (UsageError, DiagnosticError) as exc:
        _fail(exc)
        return
    record = predictions[0]
    sys.stdout.write(
        json.dumps({k: v for k, v in record.items() if k not in ("row", "gold")}, ensure_ascii=False) + "\n"
    )


@app.command("eval")
def eval_command(
    file: Annotated[Path, typer.Argument(help="The .lgpt file.")],
    data: Annotated[Path, typer.Option("--data", help="Evaluation data (with gold answers).")],
    run_dir: Annotated[
        Path | None, typer.Option("--run", help="A finished run; without it the untrained model is scored.")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the metrics JSON here.")] = None,
    predictions: Annotated[
        Path | None, typer.Option("--predictions", help="Write the predictions (JSONL) here.")
    ] = None,
    model: ModelOpt = None,
    method: MethodOpt = None,
    task: TaskOpt = None,
    entry: EntryOpt = None,
    head: HeadOpt = None,
    eval_limit: Annotated[int | None, typer.Option("--limit", help="Evaluate on the first N rows.")] = None,
    sets: SetOpt = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip bad rows instead of stopping.")] = False,
    root: RootOpt = None,
    trust_remote_code: TrustOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Score a trained run, or the untrained model (zero-/few-shot prompting), on --data."""
    _require_file(file)
    from langgpt.atomic import write_text
    from langgpt.runtime.api import evaluate, jsonl_text

    overrides = _overrides(sets, model=model, method=method, task=task, entry=entry, head=head, eval_limit=eval_limit)
    try:
        metrics, preds = evaluate(
            file,
            data=data,
            run_dir=run_dir,
            overrides=overrides,
            skip_bad=skip_bad,
            progress=not quiet,
            trust_remote_code=trust_remote_code,
            root=root,
        )
    except (UsageError, DiagnosticError) as exc:
        _fail(exc)
        return
    task_name = "classify" if "accuracy" in metrics else "ner" if "per_type" in metrics else "generate"
    _table(f"{file.name}: {task_name}", task_name, {"trained run" if run_dir else "untrained (prompt only)": metrics})
    if not quiet:
        _class_report(metrics)
    if output is not None:
        write_text(output, json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    if predictions is not None:
        write_text(predictions, jsonl_text(preds))


@app.command("predict")
def predict_command(
    file: Annotated[Path, typer.Argument(help="The .lgpt file the run was trained from.")],
    run_dir: Annotated[
        Path | None, typer.Option("--run", help="A finished run (without it: the untrained model, prompt only).")
    ] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Rows to predict: JSONL, CSV, TSV or CoNLL.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write predictions (JSONL) here.")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", help="Predict for this one input.")] = None,
    var: Annotated[list[str] | None, typer.Option("--var", help="NAME=VALUE of one input row, repeatable.")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip bad rows instead of stopping.")] = False,
    model: ModelOpt = None,
    task: TaskOpt = None,
    entry: EntryOpt = None,
    root: RootOpt = None,
    trust_remote_code: TrustOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Predict with a trained run: every row of --data (to -o), or one --prompt / --var input."""
    _require_file(file)
    overrides = _overrides(None, model=model, task=task, entry=entry)
    if data is None:
        if prompt is None and not var:
            _usage_error("lgpt predict needs --data FILE, --prompt TEXT or --var NAME=VALUE")
        _predict_one(file, _prompt_row(file, prompt, var, root), run_dir, overrides, root, trust_remote_code)
        return
    from langgpt.atomic import write_text
    from langgpt.runtime.api import jsonl_text, predict

    try:
        preds = predict(
            file,
            run_dir=run_dir,
            data=data,
            overrides=overrides,
            skip_bad=skip_bad,
            progress=not quiet,
            root=root,
            trust_remote_code=trust_remote_code,
        )
    except (UsageError, DiagnosticError) as exc:
        _fail(exc)
        return
    text = jsonl_text([{k: v for k, v in p.items() if k != "gold"} for p in preds])
    if output is not None:
        write_text(output, text)
        _stderr_console().print(f"wrote {len(preds):,} predictions to {output}")
    else:
        sys.stdout.write(text)
