"""The training loop: batches, AdamW with linear warmup and decay, checkpoints, resume, Ctrl-C, DDP.

Written out rather than delegated to ``transformers.Trainer`` because the runtime promises things a
generic trainer does not: the batch order is a pure function of (seed, step), so a run resumed from
a checkpoint (after Ctrl-C or SIGKILL) continues with exactly the batches and random numbers it would
have had, and ends with the same metrics; the loss is summed per example or token and divided by the
global count, so two processes with half a batch each compute the same update as one process with
the whole batch; and it stays within a few percent of a bare PyTorch loop (bench/train.py measures it).

Under ``torchrun`` / ``accelerate launch`` (WORLD_SIZE > 1) each process takes every WORLD_SIZE-th
example of each global batch; only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from torch import nn

from langgpt.runtime.checkpoint import latest_checkpoint, load_checkpoint, rng_state, save_checkpoint
from langgpt.runtime.settings import RunSettings


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) during training: a checkpoint was saved at ``step``."""

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        super().__init__(f"interrupted at step {step}")
        self.step = step
        self.checkpoint = checkpoint


# ----------------------------------------------------------------------------- processes


class Dist:
    """This process's place in a distributed run (rank 0 of 1 without one)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.active = False

    def start(self) -> None:
        if self.world > 1 and not self.active:
            import torch.distributed as td

            if not td.is_initialized():
                td.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            self.active = True

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return value
        import torch.distributed as td

        value = value.clone()
        td.all_reduce(value)
        return value

    def gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's copy of a same-shaped tensor (on every rank)."""
        if not self.active:
            return [tensor]
        import torch.distributed as td

        out = [torch.empty_like(tensor) for _ in range(self.world)]
        td.all_gather(out, tensor)
        return out

    def share_text(self, text: str | None) -> str:
        """Rank 0's ``text`` on every rank (e.g. the run directory it chose)."""
        if not self.active:
            return text or ""
        import torch.distributed as td

        data = (text or "").encode("utf-8")[:4096]
        buffer = torch.zeros(4097, dtype=torch.uint8)
        length = torch.tensor([len(data)], dtype=torch.long)
        if self.main:
            buffer[: len(data)] = torch.tensor(list(data), dtype=torch.uint8)
        td.broadcast(length, 0)
        td.broadcast(buffer, 0)
        return bytes(buffer[: int(length.item())].tolist()).decode("utf-8")

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as td

            td.barrier()

    def wrap(self, module: nn.Module) -> nn.Module:
        if not self.active:
            return module
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(module, find_unused_parameters=False)

    def stop(self) -> None:
        if self.active:
            import torch.distributed as td

            td.destroy_process_group()
            self.active = False


def device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


# ----------------------------------------------------------------------------- batches


def collate(examples: Sequence[dict[str, Any]], pad_id: int, where: torch.device) -> dict[str, torch.Tensor]:
    """Pad to the longest example of the batch (dynamic padding), on the right."""
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    batch: dict[str, torch.Tensor] = {}
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[i, :n] = torch.tensor(e["input_ids"], dtype=torch.long)
        mask[i, :n] = 1
    batch["input_ids"], batch["attention_mask"] = ids, mask
    first = examples[0]
    if "position" in first:
        batch["position"] = torch.tensor([e["position"] for e in examples], dtype=torch.long)
    if "label" in first:
        batch["label"] = torch.tensor([e["label"] for e in examples], dtype=torch.long)
    if "labels" in first:
        lwidth = max(len(e["labels"]) for e in examples)
        labels = torch.full((len(examples), lwidth), -100, dtype=torch.long)
        for i, e in enumerate(examples):
            labels[i, : len(e["labels"])] = torch.tensor(e["labels"], dtype=torch.long)
        batch["labels"] = labels
    return {k: v.to(where) for k, v in batch.items()}


def steps_per_epoch(examples: int, batch_size: int) -> int:
    return max(1, math.ceil(examples / batch_size))


def total_steps(settings: RunSettings, examples: int) -> int:
    return max(1, math.ceil(float(settings.epochs) * steps_per_epoch(examples, settings.batch_size)))


def batch_indices(step: int, examples: int, settings: RunSettings) -> list[int]:
    """The global batch of ``step``: a pure function of (seed, step), so resuming repeats it."""
    per_epoch = steps_per_epoch(examples, settings.batch_size)
    epoch, index = divmod(step, per_epoch)
    order = _epoch_order(settings.seed, epoch, examples)
    return order[index * settings.batch_size : (index + 1) * settings.batch_size]


@functools.lru_cache(maxsize=2)
def _epoch_order(seed: int, epoch: int, examples: int) -> list[int]:
    """One shuffle per epoch (cached: every step of the epoch slices the same order)."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order: list[int] = torch.randperm(examples, generator=generator).tolist()
    return order


def learning_rate(step: int, total: int, settings: RunSettings) -> float:
    warmup = int(settings.warmup * total)
    if step < warmup:
        return float(settings.lr * (step + 1) / warmup)
    remaining = max(1, total - warmup)
    return float(settings.lr * max(0.0, (total - step) / remaining))


# ----------------------------------------------------------------------------- Ctrl-C


class StopFlag:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint at the end of the step and stops."""

    def __init__(self) -> None:
        self.raised = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # not the main thread: no handler, Ctrl-C behaves as usual
            with contextlib.suppress(ValueError):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.raised:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# ----------------------------------------------------------------------------- the loop


class TrainResult:
    def __init__(self, steps: int, seconds: float, log: list[dict[str, Any]], resumed_from: int) -> None:
        self.steps = steps
        self.seconds = seconds
        self.log = log
        self.resumed_from = resumed_from

    @property
    def final_loss(self) -> float | None:
        losses = [r["loss"] for r in self.log if "loss" in r]
        return float(losses[-1]) if losses else None


def train(
    module: nn.Module,
    examples: Sequence[dict[str, Any]],
    settings: RunSettings,
    *,
    pad_id: int,
    run_dir: Path | None,
    meta: dict[str, Any],
    resume: bool = False,
    dist: Dist | None = None,
    progress: bool = True,
    on_log: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train ``module`` in place on ``examples``; checkpoints and the log go under ``run_dir``."""
    dist = dist or Dist()
    where = device()
    module.to(where)
    module.train()
    model = dist.wrap(module)
    parameters = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=settings.lr, weight_decay=settings.weight_decay)
    total = total_steps(settings, len(examples))
    checkpoints = run_dir / "checkpoints" if run_dir is not None else None
    log_path = run_dir / "train_log.jsonl" if run_dir is not None else None
    start = 0
    window: list[tuple[float, float]] = []  # (loss sum, count) of the steps since the last log record
    if resume and checkpoints is not None:
        found = latest_checkpoint(checkpoints)
        if found is not None:
            state = load_checkpoint(found, module, optimizer, dist.rank)
            start = int(state["step"])
            window = [(float(s), float(c)) for s, c in state.get("pending", [])]
    log = _read_log(log_path, start) if (resume and log_path is not None) else []
    if log_path is not None and dist.main:
        _write_log(log_path, log)
    bar = _Bar(progress and dist.main, total, start)
    started = time.perf_counter()
    step = start
    with StopFlag() as stop:
        try:
            for step in range(start, total):
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(step, total, settings)
                everyone = batch_indices(step, len(examples), settings)
                indices = everyone[dist.rank :: dist.world]
                # a rank left without examples (a last batch smaller than the world) still joins the
                # gradient exchange, with one example whose loss counts zero
                weight = 1.0 if indices else 0.0
                batch = collate([examples[i] for i in indices or everyone[:1]], pad_id, where)
                loss_sum, count, _ = model(batch)
                loss_sum, count = loss_sum * weight, count * int(weight)
                global_count = dist.sum(count.detach().to(torch.float32).cpu()).clamp(min=1)
                loss = loss_sum * dist.world / global_count.to(loss_sum.device)
                loss.backward()
                if settings.grad_clip:
                    torch.nn.utils.clip_grad_norm_(parameters, settings.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                window.append((dist.sum(loss_sum.detach().float().cpu()).item(), float(global_count.item())))
                done = step + 1
                if done % settings.log_every == 0 or done == total:
                    record = _record(done, total, len(examples), settings, window, optimizer, started, start)
                    window = []
                    log.append(record)
                    if log_path is not None and dist.main:
                        _append_log(log_path, record)
                    if on_log is not None:
                        on_log(record)
                    bar.update(done, record["loss"])
                else:
                    bar.update(done, None)
                if checkpoints is not None and done < total and done % settings.save_every == 0:
                    _checkpoint(checkpoints, done, module, optimizer, {**meta, "pending": window}, settings, dist)
                stopping = dist.sum(torch.tensor(float(stop.raised))).item() > 0
                if stopping:
                    path = None
                    if checkpoints is not None:
                        path = _checkpoint(
                            checkpoints, done, module, optimizer, {**meta, "pending": window}, settings, dist
                        )
                    raise Interrupted(done, path)
        finally:
            bar.close()
    module.eval()
    return TrainResult(total - start, time.perf_counter() - started, log, start)


def _checkpoint(
    folder: Path,
    step: int,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    meta: dict[str, Any],
    settings: RunSettings,
    dist: Dist,
) -> Path | None:
    path = None
    states = rng_state(dist.rank)
    everyone: dict[str, torch.Tensor] = {}
    for key, tensor in states.items():  # every rank's random state, saved by rank 0
        name = key.rsplit(".", 1)[0]
        for rank, copy in enumerate(dist.gather(tensor)):
            everyone[f"{name}.{rank}"] = copy
    if dist.main:
        path = save_checkpoint(folder, step, module, optimizer, meta, settings.keep_checkpoints, everyone)
    dist.barrier()
    return path


def _record(
    done: int,
    total: int,
    examples: int,
    settings: RunSettings,
    window: list[tuple[float, float]],
    optimizer: torch.optim.Optimizer,
    started: float,
    start: int,
) -> dict[str, Any]:
    loss = sum(s for s, _ in window) / max(1.0, sum(c for _, c in window))
    elapsed = time.perf_counter() - started
    return {
        "step": done,
        "epoch": round(done / steps_per_epoch(examples, settings.batch_size), 4),
        "loss": round(loss, 6),
        "lr": optimizer.param_groups[0]["lr"],
        "steps_per_s": round((done - start) / elapsed, 3) if elapsed > 0 else None,
    }


def _read_log(path: Path | None, upto: int) -> list[dict[str, Any]]:
    """The log of an interrupted run up to its checkpoint (later lines were not kept by the weights)."""
    if path is None or not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a kill
            continue
        if isinstance(record, dict) and int(record.get("step", 0)) <= upto:
            records.append(record)
    return records


def _write_log(path: Path, records: list[dict[str, Any]]) -> None:
    from langgpt.atomic import write_text

    write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def _append_log(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


class _Bar:
    """A rich progress bar with ETA, steps/s and the live loss (stderr)."""

    def __init__(self, enabled: bool, total: int, start: int) -> None:
        self.bar: Any = None
        self.task: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.bar.start()
        self.task = self.bar.add_task("train", total=total, completed=start, loss="-")

    def update(self, done: int, loss: float | None) -> None:
        if self.bar is None:
            return
        if loss is None:
            self.bar.update(self.task, completed=done)
        else:
            self.bar.update(self.task, completed=done, loss=f"{loss:.4f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
