"""Long fuzzing runs with the generators and mutators of tests/test_fuzz.py.

    .venv/bin/python bench/fuzz.py --cases 100000 --seed 1 [--jobs 2] [--no-report]

Every case is reproducible from (seed, case number). Failures (any exception other than
DiagnosticError / UsageError, or a call running past 5 s) are saved under bench/.fuzz-failures/
with their traceback, grouped by signature (function, exception type, innermost langgpt frame).
The summary goes to stdout and to the ``fuzz`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)
for p in (str(ROOT), str(ROOT / "tests")):
    if p not in sys.path:
        sys.path.insert(0, p)

import test_fuzz  # noqa: E402
from test_fuzz import STATS, Unexpected, exercise, mutation_cases, save_failure, seed_vars  # noqa: E402

from bench.report import machine_info, write_section  # noqa: E402

test_fuzz.TOLERATE_KNOWN_BUGS = False  # the bench reports everything, known bugs included

FAILURES = ROOT / "bench" / ".fuzz-failures"


def signature(exc: Unexpected) -> str:
    frames = re.findall(r'File "([^"]*langgpt[^"]*)", line (\d+), in (\w+)', exc.tb)
    where = f"{Path(frames[-1][0]).name}:{frames[-1][2]}" if frames else "?"
    return f"{exc.fn} -> {type(exc.exc).__name__} at {where}"


def _worker(args: tuple[int, int, int]) -> tuple[int, Counter[str], dict[str, tuple[int, str, str, str]], int]:
    seed, start, count = args
    found: Counter[str] = Counter()
    examples: dict[str, tuple[int, str, str, str]] = {}
    STATS["format_refusals"] = 0
    for n, path, fmt, text in mutation_cases(seed, count, start):
        try:
            exercise(text, path, fmt, seed_vars(path))
        except Unexpected as exc:
            sig = signature(exc)
            found[sig] += 1
            # keep the shortest input per signature
            if sig not in examples or len(text) < len(examples[sig][2]):
                examples[sig] = (n, path, text, f"case {n} (seed {seed}) from {path} [{fmt}]\n{exc}\n\n{exc.tb}")
    return count, found, examples, STATS["format_refusals"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--no-report", action="store_true", help="do not touch docs/benchmarks.md")
    opts = ap.parse_args()

    FAILURES.mkdir(parents=True, exist_ok=True)
    (FAILURES / ".gitignore").write_text("*\n", encoding="utf-8")
    chunks = [(opts.seed, s, min(opts.chunk, opts.cases - s)) for s in range(0, opts.cases, opts.chunk)]
    tried, refusals = 0, 0
    found: Counter[str] = Counter()
    examples: dict[str, tuple[int, str, str, str]] = {}
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(opts.jobs) if opts.jobs > 1 else _Serial() as pool:
        for count, f, ex, r in pool.imap_unordered(_worker, chunks):
            tried += count
            refusals += r
            found.update(f)
            for sig, e in ex.items():
                if sig not in examples or len(e[2]) < len(examples[sig][2]):
                    examples[sig] = e
            el = time.perf_counter() - t0
            print(
                f"\r{tried}/{opts.cases} cases, {sum(found.values())} failures, {tried / el:.0f}/s", end="", flush=True
            )
    elapsed = time.perf_counter() - t0
    print()

    lines = []
    for sig, k in found.most_common():
        n, path, text, detail = examples[sig]
        saved = save_failure(FAILURES, f"seed{opts.seed}-case{n}{Path(path).suffix}", text, detail)
        lines.append(f"| {k} | `{sig}` | `{saved.relative_to(ROOT)}` ({len(text)} chars) |")
    info = machine_info()
    body = "\n".join(
        [
            "## Fuzzing (`bench/fuzz.py`)",
            "",
            f"`.venv/bin/python bench/fuzz.py --cases {opts.cases} --seed {opts.seed} --jobs {opts.jobs}`"
            f" on {info['cpu']} ({info['cores']}), {info['python']}, {info['os']}, langgpt {info['langgpt']},"
            f" {info['date']}.",
            "",
            "Each case mutates one seed file (prompts/, tests/fixtures/) and runs parse, check, every entry x every"
            " text target, format_source, or the matching importer (and then the .lgpt pipeline on its output).",
            "",
            f"- cases tried: {tried}",
            f"- time: {elapsed:.1f} s ({tried / elapsed:.0f} cases/s with {opts.jobs} process(es))",
            f"- failures (unexpected exception or hang): {sum(found.values())} in {len(found)} distinct signature(s)",
            f"- formatter refusals (FormatError, tolerated): {refusals}",
            "",
        ]
        + (["| count | signature | smallest saved input |", "|---|---|---|", *lines] if lines else [])
    )
    print(body)
    if not opts.no_report:
        write_section("fuzz", body)


class _Serial:
    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def imap_unordered(self, fn, items):  # type: ignore[no-untyped-def]
        return map(fn, items)


if __name__ == "__main__":
    main()
