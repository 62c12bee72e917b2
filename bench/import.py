"""Import benchmark: LangGPT Markdown -> .lgpt on a 1 MB collection, and the formatter.

    .venv/bin/python bench/import.py

Builds a ~1 MB collection by repeating the self-written fixtures in tests/fixtures/markdown (each
copy gets its own role names), then measures in one run:

1. ``langgpt.importers.markdown.import_text`` on it (target: under 1 s);
2. the same with whole-file verification (compile back to Markdown and compare), which the importer
   runs by default only below 200 kB;
3. ``lgpt import`` as a process, which also parses and checks what it wrote;
4. ``format_source`` on the imported .lgpt, for scale.

Writes the section between ``<!-- bench:import:start -->`` and ``<!-- bench:import:end -->`` in
docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import machine_info, write_section  # noqa: E402
from langgpt.fmt import format_source  # noqa: E402
from langgpt.importers.markdown import import_text, normalise  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "markdown"
TARGET_BYTES = 1_000_000
TARGET_SECONDS = 1.0


def collection(size: int) -> str:
    parts = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.md"))]
    parts = [p for p in parts if p.lstrip().startswith("#")]
    out: list[str] = []
    total, n = 0, 0
    while total < size:
        for part in parts:
            copy = part.replace("Role: ", f"Role: Copy{n} ", 1).replace("Role : ", f"Role : Copy{n} ", 1)
            out.append(copy)
            total += len(copy.encode("utf-8")) + 1
            n += 1
    return "\n".join(out)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    text = collection(TARGET_BYTES)
    size = len(text.encode("utf-8"))
    result = import_text(text, "collection.md")
    roles = result.source.count("\nrole ")
    fast = timed(lambda: import_text(text, "collection.md"), 5)
    verified = timed(lambda: import_text(text, "collection.md", verify=True), 1)
    formatted = timed(lambda: format_source(result.source), 1)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "collection.md"
        src.write_text(text, encoding="utf-8")
        out = Path(tmp) / "collection.lgpt"
        cmd = [sys.executable, "-m", "langgpt.cli", "import", "--quiet", str(src), "-o", str(out)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        cli = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
        back = subprocess.run(
            [sys.executable, "-m", "langgpt.cli", "compile", str(out), "-t", "markdown", "--root", tmp],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        faithful = back.returncode == 0 and normalise(back.stdout) == normalise(text)
    median = statistics.median(fast)
    machine = machine_info()
    lines = [
        "## Markdown import (`bench/import.py`)",
        "",
        f"Command: `.venv/bin/python bench/import.py`. Machine: {machine['cpu']}, {machine['cores']}, "
        f"{machine['python']}, {machine['os']}; {machine['date']}.",
        "",
        f"Input: a {size / 1e6:.2f} MB LangGPT collection ({roles} roles) built by repeating the fixtures in "
        "`tests/fixtures/markdown`.",
        "",
        "| step | time | note |",
        "| --- | --- | --- |",
        f"| `import_text` (default: per-section verification) | {median:.2f} s (median of 5) | target < {TARGET_SECONDS:.0f} s: "
        f"{'met' if median < TARGET_SECONDS else 'NOT met'} |",
        f"| `import_text(verify=True)` (also compiles the whole result back and compares) | {verified[0]:.2f} s | "
        "the default below 200 kB |",
        f"| `lgpt import --quiet` process (import, then parse and check the written .lgpt) | {cli:.2f} s | "
        "parsing 1.4 MB of .lgpt with Lark dominates |",
        f"| `format_source` of the imported file | {formatted[0]:.2f} s | |",
        "",
        f"Round trip of the whole collection (`lgpt import`, then `lgpt compile --target markdown`): "
        f"{'identical after normalising trailing whitespace and blank-line runs' if faithful else 'DIFFERENT'}.",
    ]
    write_section("import", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
