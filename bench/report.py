"""Shared by the benchmark scripts: the machine description and docs/benchmarks.md sections.

Each script owns one section between ``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``
and rewrites only that, so the scripts can run separately and in any order.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from pathlib import Path
from typing import Any

REPORT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def machine_info() -> dict[str, str]:
    import langgpt

    cpu = platform.processor() or platform.machine()
    physical: set[tuple[str, str]] = set()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        models = re.findall(r"^model name\s*:\s*(.+)$", text, re.M)
        if models:
            cpu = models[0].strip()
        phys_ids = re.findall(r"^physical id\s*:\s*(\d+)$", text, re.M)
        core_ids = re.findall(r"^core id\s*:\s*(\d+)$", text, re.M)
        if phys_ids and len(phys_ids) == len(core_ids):
            physical = set(zip(phys_ids, core_ids, strict=True))
    except OSError:
        pass
    logical = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = logical
    cores = f"{logical} logical CPU(s)"
    if physical:
        cores += f", {len(physical)} physical core(s)"
    if usable != logical:
        cores += f", {usable} usable by this process"
    return {
        "cpu": cpu,
        "cores": cores,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "langgpt": langgpt.__version__,
    }


def write_section(name: str, body: str) -> None:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{body}\n{end}"
    if REPORT.exists():
        text = REPORT.read_text(encoding="utf-8")
        i, j = text.find(start), text.find(end)
        text = (
            text[:i] + block + text[j + len(end) :] if i != -1 and j > i else text.rstrip("\n") + "\n\n" + block + "\n"
        )
    else:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        text = (
            "# Benchmarks\n\nEach section below is written by a script in `bench/`; rerun the script to refresh its section.\n\n"
            + block
            + "\n"
        )
    REPORT.write_text(text, encoding="utf-8")


def plot(
    name: str,
    series: dict[str, tuple[list[Any], list[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    log: bool = False,
    bars: bool = False,
) -> str:
    """Draw ``series`` (label -> (xs, ys)) to docs/img/NAME.png and return the Markdown that shows it,
    or a note when matplotlib is not installed (the numbers stay in the tables either way)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return f"_(plot `{name}` skipped: matplotlib is not installed)_"
    folder = REPORT.parent / "img"
    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
    for label, (xs, ys) in series.items():
        if bars:
            ax.bar([str(x) for x in xs], ys, label=label)
        else:
            ax.plot(xs, ys, marker="o", label=label)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    elif bars:
        ax.set_yscale("log")  # the methods differ by orders of magnitude
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(folder / f"{name}.png", metadata={"Software": None})
    plt.close(fig)
    return f"![{title}](img/{name}.png)"
