"""The loss curve written into a run directory.

Drawn with a bare ``Figure`` on an Agg canvas rather than pyplot: no global figure state, so it is safe
from worker threads and never tries to open a window. matplotlib is imported only when a plot is made.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_loss"]

_SIZE_INCHES = (7.0, 4.0)
_DPI = 100
_SMOOTH_ABOVE = 20  # fewer points than this read fine unsmoothed


def _points(log: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float]]:
    """``(step, value)`` for the records that carry a number under ``key``; records without a step use their position."""
    points: list[tuple[float, float]] = []
    for position, record in enumerate(log):
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        step = record.get("step")
        x = step if isinstance(step, (int, float)) and not isinstance(step, bool) else position
        points.append((float(x), float(value)))
    return points


def _ema(values: Sequence[float]) -> list[float]:
    """Exponential moving average whose window grows with the run (about a tenth of the points)."""
    alpha = min(0.3, max(0.02, 10 / len(values)))
    smoothed: list[float] = []
    current = math.nan
    for value in values:
        if not math.isfinite(value):
            # A nan/inf loss would poison every later average; the raw line still shows it.
            smoothed.append(current)
            continue
        current = value if math.isnan(current) else current + alpha * (value - current)
        smoothed.append(current)
    return smoothed


def _draw(figure: Figure, log: Sequence[Mapping[str, Any]], title: str) -> None:
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    train = _points(log, "loss")
    evals = _points(log, "eval_loss")
    if not train and not evals:
        axes.text(0.5, 0.5, "no training steps", ha="center", va="center", transform=axes.transAxes)
        axes.set_xticks([])  # an empty 0..1 scale would suggest data that is not there
        axes.set_yticks([])
        return
    if train:
        steps, losses = zip(*train, strict=True)
        smooth = len(train) > _SMOOTH_ABOVE
        # With a smoothed line on top, the raw one fades into the background.
        axes.plot(steps, losses, color="tab:blue", alpha=0.3 if smooth else 1.0, linewidth=1, label="train")
        if smooth:
            axes.plot(steps, _ema(losses), color="tab:blue", linewidth=2, label="train (smoothed)")
    if evals:
        steps, losses = zip(*evals, strict=True)
        axes.plot(steps, losses, color="tab:orange", marker="o", linewidth=1.5, label="eval")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper right")


def plot_loss(log: Sequence[Mapping[str, Any]], path: Path, title: str) -> None:
    """Write the loss curve of ``log`` (training and eval records) to ``path`` as a PNG, atomically.

    The bytes depend only on the input (fixed size and dpi, no software/version metadata), so a rerun
    that logs the same numbers leaves an identical file.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=_SIZE_INCHES, dpi=_DPI)
    FigureCanvasAgg(figure)
    _draw(figure, log, title)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Temp file in the destination folder: os.replace is atomic only within one file system, and a
    # reader (or a crash mid-write) then sees either the old plot or the new one, never half a PNG.
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            figure.savefig(handle, format="png", dpi=_DPI, metadata={"Software": None})
        os.chmod(temp_name, 0o644)  # mkstemp makes it 0600; the plot is as readable as the rest of the run
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
