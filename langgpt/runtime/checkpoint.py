"""Checkpoints: everything needed to continue a run exactly, written atomically, never pickled.

A checkpoint is a folder ``checkpoints/step-NNNNNNN/`` holding

- ``weights.safetensors``: the trainable parameters (by name);
- ``optimizer.safetensors``: AdamW's moments and step counts, by parameter index;
- ``rng.safetensors``: every process's torch (and CUDA) random state (dropout), so a resumed run
  draws the same numbers on every rank;
- ``state.json``: the step, the settings' training key and the source hash it belongs to.

The folder is built under a temporary name and renamed into place; then ``checkpoints/latest.json``
is replaced (atomically) to point at it. A kill at any moment leaves the previous checkpoint intact
and ``latest.json`` naming a complete one. Loading uses safetensors and JSON only: a run directory
from elsewhere cannot run code.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from langgpt.atomic import fsync_folder, umask, write_text

LATEST = "latest.json"


def trainable_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().cpu().contiguous() for name, p in module.named_parameters() if p.requires_grad}


def load_trainable_state(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy saved parameters into ``module``; every saved name must exist there."""
    parameters = dict(module.named_parameters())
    unknown = sorted(set(state) - set(parameters))
    if unknown:
        raise ValueError(f"saved weights do not fit this model (unknown parameters: {', '.join(unknown[:3])} ...)")
    with torch.no_grad():
        for name, tensor in state.items():
            target = parameters[name]
            if target.shape != tensor.shape:
                raise ValueError(
                    f"saved weights do not fit this model: {name} is {tuple(tensor.shape)}, expected {tuple(target.shape)}"
                )
            target.copy_(tensor.to(target.device, target.dtype))


def save_safetensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"format": "pt"})
    os.chmod(path, 0o666 & ~umask())  # safetensors writes 0600; the run directory follows the umask


def rng_state(rank: int) -> dict[str, torch.Tensor]:
    """This process's random state, keyed by rank (each DDP process draws its own dropout masks)."""
    state = {f"torch.{rank}": torch.get_rng_state()}
    if torch.cuda.is_available():
        state[f"cuda.{rank}"] = torch.cuda.get_rng_state()
    return state


def restore_rng(tensors: dict[str, torch.Tensor], rank: int) -> None:
    own = tensors.get(f"torch.{rank}", tensors.get("torch"))
    if own is not None:
        torch.set_rng_state(own)
    cuda = tensors.get(f"cuda.{rank}")
    if cuda is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda)


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return dict(load_file(str(path)))


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    state = optimizer.state_dict()["state"]
    tensors: dict[str, torch.Tensor] = {}
    for index, values in state.items():
        for key, value in values.items():
            tensor = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"{index}.{key}"] = tensor.detach().cpu()
    return tensors


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    current = optimizer.state_dict()
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        index, _, key = name.partition(".")
        state.setdefault(int(index), {})[key] = tensor
    current["state"] = state
    optimizer.load_state_dict(current)


def save_checkpoint(
    folder: Path,
    step: int,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    meta: dict[str, Any],
    keep: int,
    rng: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write checkpoint ``step`` under ``folder`` and point ``latest.json`` at it; keep the last ``keep``.
    ``rng``: every rank's random state (default: this process's, as rank 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:07d}"
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}.", suffix=".tmp"))
    try:
        os.chmod(staging, 0o777 & ~umask())
        save_safetensors(trainable_state(module), staging / "weights.safetensors")
        save_safetensors(optimizer_tensors(optimizer), staging / "optimizer.safetensors")
        save_safetensors(rng if rng is not None else rng_state(0), staging / "rng.safetensors")
        (staging / "state.json").write_text(json.dumps({"step": step, **meta}, indent=2, sort_keys=True) + "\n")
        for path in staging.iterdir():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        fsync_folder(staging)
        final = folder / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        fsync_folder(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_text(folder / LATEST, json.dumps({"step": step, "folder": name}) + "\n")
    _prune(folder, keep, name)
    return final


def _prune(folder: Path, keep: int, newest: str) -> None:
    steps = sorted(p for p in folder.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))
    for old in steps[: max(0, len(steps) - keep)]:
        if old.name != newest:
            shutil.rmtree(old, ignore_errors=True)
    # left by a kill while writing (one writer per run directory, so none of them is in use now)
    for stale in folder.glob(".step-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in folder.glob(f".{LATEST}.*.tmp"):
        stale.unlink(missing_ok=True)


def latest_checkpoint(folder: Path) -> Path | None:
    pointer = folder / LATEST
    if not pointer.exists():
        return None
    data = json.loads(pointer.read_text())
    path = folder / str(data["folder"])
    return path if (path / "state.json").exists() else None


def load_checkpoint(path: Path, module: nn.Module, optimizer: torch.optim.Optimizer, rank: int = 0) -> dict[str, Any]:
    """Restore weights, optimizer and this rank's RNG from ``path``; returns its state.json."""
    load_trainable_state(module, load_safetensors(path / "weights.safetensors"))
    restore_optimizer(optimizer, load_safetensors(path / "optimizer.safetensors"))
    restore_rng(load_safetensors(path / "rng.safetensors"), rank)
    state: dict[str, Any] = json.loads((path / "state.json").read_text())
    return state
