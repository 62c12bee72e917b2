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
