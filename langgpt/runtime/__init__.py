"""The runtime: ``lgpt run`` trains, evaluates and predicts on Hugging Face models from a .lgpt file.

    from langgpt.runtime import run, evaluate, predict
    result = run("prompts/sentiment.lgpt", train=Path("prompts/data/sentiment_train.jsonl"),
                 eval=Path("prompts/data/sentiment_eval.jsonl"), output=Path("runs/sentiment"))
    print(result.before["accuracy"], "->", result.after["accuracy"])
    metrics, predictions = evaluate("prompts/sentiment.lgpt", data=..., run_dir=Path("runs/sentiment"))
    predict("prompts/sentiment.lgpt", run_dir=Path("runs/sentiment"), rows=[{"sentence": "Love it."}])

The pipeline, one module each: ``settings`` (train block + flags) -> ``examples`` (rows rendered
through the template and tokenized; ``ner`` reads tagged sentences) -> ``models`` (backbone + method +
task head) -> ``loop`` (training, checkpoints, resume, DDP) -> ``evaluate`` (predictions and
``metrics``) -> ``api`` (the run directory). Importing this package is light; torch, transformers
and peft load when a job starts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Interrupted", "RunResult", "evaluate", "predict", "run"]


def __getattr__(name: str) -> Any:
    if name in ("run", "evaluate", "predict", "RunResult"):
        from langgpt.runtime import api

        return getattr(api, name)
    if name == "Interrupted":
        from langgpt.runtime.loop import Interrupted

        return Interrupted
    raise AttributeError(name)
