"""The settings of one run: the file's `train` block, overridden by command-line flags.

``resolve`` reads the `train` block (and the `soft_prompt` block when it describes the same method)
and applies the overrides; what comes out is printed at the start of a run and saved as
``config.json`` in the run directory, so a run can be reproduced, resumed and reloaded for prediction.
Unknown keys in the `train` block are an error here (E401), unlike in ``lgpt check``, which cannot know
which runtime will read them: the runtime can.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from langgpt import ast
from langgpt.config import TASKS, TRAIN_METHODS, soft_prompt_spec, train_spec
from langgpt.errors import Diagnostic, DiagnosticError, UsageError
from langgpt.loader import Program

HEADS = ("verbalizer", "plain")
PROMPT_METHODS = ("prompt_tuning", "prefix_tuning", "p_tuning")

#: settings a `train` block (or --set) may give, with their type and default
FIELDS: dict[str, tuple[type, Any]] = {
    "model": (str, "minilm"),
    "method": (str, "lora"),
    "task": (str, "classify"),
    "entry": (str, None),  # the template rows are rendered through (default: the first)
    "head": (str, "verbalizer"),
    "epochs": (float, 3.0),
    "lr": (float, 5e-4),
    "batch_size": (int, 16),
    "seed": (int, 13),
    "max_length": (int, 128),
    "warmup": (float, 0.06),
    "weight_decay": (float, 0.0),
    "grad_clip": (float, 1.0),
    "save_every": (int, 100),
    "keep_checkpoints": (int, 2),
    "log_every": (int, 5),
    "max_new_tokens": (int, 60),
    "eval_batch_size": (int, 64),
    "threads": (int, None),  # torch threads per process (default: torch's); 1 helps on a busy machine
    "tokens": (int, 20),  # virtual tokens of prompt/prefix/P-tuning
    "r": (int, 8),
    "alpha": (int, 16),
    "dropout": (float, 0.0),
    "init_text": (str, None),  # prompt tuning initialised from this text's embeddings
    "limit": (int, None),  # train on the first N rows
    "eval_limit": (int, None),
    "per_class": (int, None),  # few-shot: sample N training rows per class (with `seed`)
    "metrics": (tuple, ()),
}


class RunSettings:
    """Resolved settings (an immutable mapping with attribute access); see ``FIELDS``."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("RunSettings is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunSettings) and self._values == other._values

    def __hash__(self) -> int:
        return hash(self.to_json())

    def replace(self, **changes: Any) -> RunSettings:
        return RunSettings({**self._values, **changes})

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self._values.items()}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunSettings:
        data = json.loads(text)
        values = {key: data.get(key, default) for key, (_, default) in FIELDS.items()}
        values["metrics"] = tuple(values["metrics"] or ())
        return cls(values)

    def training_key(self) -> dict[str, Any]:
        """What must not change between a run and its ``--resume`` (everything that shapes the
        weights or the data order)."""
        keep = {
            "log_every",
            "save_every",
            "keep_checkpoints",
            "eval_batch_size",
            "eval_limit",
            "max_new_tokens",
            "threads",
        }
        return {k: v for k, v in self.as_dict().items() if k not in keep}


def source_hash(program: Program) -> str:
    """SHA-256 over every source file of the program (imports included), in a stable order. Files are
    named relative to the main file's folder, so the same project hashes alike from any directory."""
    digest = hashlib.sha256()
    base = os.path.dirname(os.path.abspath(program.main.name))
    named = {os.path.relpath(os.path.abspath(name), base): text for name, text in program.sources.items()}
    for name in sorted(named):
        digest.update(name.encode() + b"\0" + named[name].encode() + b"\0")
    return digest.hexdigest()


def resolve(program: Program, overrides: Mapping[str, Any] | None = None) -> RunSettings:
    """The run's settings: defaults < the `train` block < the matching `soft_prompt` block < overrides.

    Raises DiagnosticError for a bad `train` block, UsageError for a bad override."""
    values = {key: default for key, (_, default) in FIELDS.items()}
    block = _block(program, "train")
    if block is not None:
        values.update(_from_train_block(block))
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in FIELDS:
            raise UsageError(f"unknown setting `{key}` (known: {', '.join(FIELDS)})")
        values[key] = _coerce(key, value)
    soft = _block(program, "soft_prompt")
    if soft is not None:
        for key, value in _from_soft_prompt(soft, str(values["method"])).items():
            if not overrides or overrides.get(key) is None:
                values[key] = value
    _validate(values)
    return RunSettings(values)


def _block(program: Program, kind: str) -> ast.ConfigBlock | None:
    for block in program.document.configs():
        if block.kind == kind:
            return block
    return None


def _from_train_block(block: ast.ConfigBlock) -> dict[str, Any]:
    spec, problems = train_spec(block)
    values: dict[str, Any] = {}
    for setting in block.settings:
        if setting.key not in FIELDS:
            problems.append(
                Diagnostic(
                    "E401",
                    f"unknown train setting `{setting.key}`",
                    setting.span,
                    ", ".join(FIELDS),
                    "lgpt run reads these settings; remove it or fix the spelling",
                )
            )
            continue
        if setting.key in ("model", "method", "task", "epochs", "lr", "batch_size", "seed", "max_length", "metrics"):
            values[setting.key] = getattr(spec, setting.key)
            continue
        raw = setting.values[0] if len(setting.values) == 1 else None
        value = getattr(raw, "name", None) if isinstance(raw, ast.NameRef) else getattr(raw, "value", None)
        try:
            values[setting.key] = _coerce(setting.key, value)
        except UsageError as exc:
            problems.append(Diagnostic("E401", str(exc), setting.span, f"a {FIELDS[setting.key][0].__name__}"))
    errors = [p for p in problems if p.is_error]
    if errors:
        raise DiagnosticError(errors)
    return values


def _from_soft_prompt(block: ast.ConfigBlock, method: str) -> dict[str, Any]:
    """The soft_prompt block's sizes, when it describes the method this run trains."""
    spec, problems = soft_prompt_spec(block)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise DiagnosticError(errors)
    if spec.method != method:
        return {}
    values: dict[str, Any] = {"tokens": spec.tokens, "r": spec.r, "alpha": spec.alpha, "dropout": spec.dropout}
    if spec.init.kind == "words" and spec.init.argument:
        values["init_text"] = spec.init.argument
    return values


def _coerce(key: str, value: Any) -> Any:
    kind, _ = FIELDS[key]
    if value is None:
        return None
    try:
        if kind is tuple:
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise UsageError(f"`{key}` takes a {kind.__name__}, got {value!r}") from None


def _validate(values: dict[str, Any]) -> None:
    if values["method"] not in TRAIN_METHODS:
        raise UsageError(f"unknown method `{values['method']}` (choose from {', '.join(TRAIN_METHODS)})")
    if values["task"] not in TASKS:
        raise UsageError(f"unknown task `{values['task']}` (choose from {', '.join(TASKS)})")
    if values["head"] not in HEADS:
        raise UsageError(f"unknown head `{values['head']}` (choose from {', '.join(HEADS)})")
    for key in ("epochs", "lr", "batch_size", "max_length", "save_every", "log_every", "tokens", "r", "alpha"):
        if values[key] is not None and values[key] <= 0:
            raise UsageError(f"`{key}` must be positive, got {values[key]}")
    for key in ("warmup", "dropout"):
        if not 0 <= values[key] < 1:
            raise UsageError(f"`{key}` must be in [0, 1), got {values[key]}")
    for key in ("limit", "eval_limit", "per_class", "threads"):
        if values[key] is not None and values[key] < 1:
            raise UsageError(f"`{key}` must be 1 or more, got {values[key]}")
