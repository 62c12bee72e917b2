"""Render benchmark: rows through the compiled template vs Jinja2, dataset building vs one tokenizer call,
and the memory of dataset building at 10k and 200k rows.

Run from anywhere (it changes to the repository root first)::

    .venv/bin/python bench/render.py              # measure, print a summary, update docs/benchmarks.md
    .venv/bin/python bench/render.py --rows 2000  # fewer rows (quicker, noisier)
    .venv/bin/python bench/render.py --no-rss     # skip the 10k / 200k memory runs

In one run, on the same rows (SST-2 sentences from ``../shared/data/sst2_alps/train.tsv`` when that file
exists, its first N rows; else synthesized reviews; the rows are copied to a temporary folder outside the
repository, never into it), with ``prompts/sentiment.lgpt``'s ``classify_text`` template (4 shots, the
review, the answer slot):

(a) ``langgpt.rows``: the template compiled once, ``plan.prompt(row, strings=True)`` per row (the row's
    values are checked against the declared types too);
(b) Jinja2 compiled once (``Environment().from_string(t)``), ``.render(**row)`` per row, on a template
    that gives the same text (checked);
(c) ``Environment().from_string(t).render(**row)`` on every row (the PromptSource pattern);
(d) ``compile_dataset`` with the MiniLM tokenizer (a masked LM): read the TSV, check, render, tokenize
    in chunks, write JSONL with ``input_ids``, ``attention_mask`` and ``mask_positions``;
(e) one batched call of the same fast tokenizer on the texts (d) tokenizes (prompt + mask token).

Targets: (a) at least as fast as (b) and 10x (c); (d) at most 1.3x (e). Memory: peak RSS
(``resource.getrusage``) of fresh processes building 10k and 200k-row datasets, which should stay flat.
The report replaces the section between ``<!-- bench:render:start -->`` and ``<!-- bench:render:end -->``
in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import langgpt  # noqa: E402
from bench.report import machine_info, plot, write_section  # noqa: E402
from langgpt.data import read_rows  # noqa: E402
from langgpt.rows import compile_template  # noqa: E402
from langgpt.targets.dataset import compile_dataset  # noqa: E402

SST2 = ROOT.parent / "shared" / "data" / "sst2_alps" / "train.tsv"
PROGRAM = "prompts/sentiment.lgpt"
ENTRY = "classify_text"
REPS = 5
RSS_ROWS = (10_000, 200_000)

MIN_VS_JINJA = 1.0  # (a) at least as fast as compiled Jinja2
MIN_VS_PROMPTSOURCE = 10.0  # (a) at least 10x Jinja2 from_string per row
MAX_VS_TOKENIZER = 1.3  # (d) at most 1.3x one batched tokenizer call


# ----------------------------------------------------------------------------- rows


def source_rows(n: int) -> tuple[list[dict[str, str]], str]:
    """The first n SST-2 rows (sentence, label as 0/1), or synthesized ones."""
    if SST2.is_file():
        header = SST2.open(encoding="utf-8").readline().rstrip("\n").split("\t")
        if {"sentence", "label"} <= set(header):
            rows = read_rows(SST2)[:n]
            if len(rows) == n:
                return [
                    {"sentence": r["sentence"], "label": r["label"]} for r in rows
                ], f"SST-2 `{SST2.name}` (first {n} rows)"
    rng = random.Random(0)
    subjects = ["the battery", "this blender", "the screen", "the strap", "customer service", "the lid", "the app"]
    verdicts = [("works perfectly", 1), ("broke after a week", 0), ("is a joy to use", 1), ("leaks", 0)]
    rows = []
    for i in range(n):
        verdict, label = rng.choice(verdicts)
        rows.append({"sentence": f"{rng.choice(subjects)} {verdict}, order {i}", "label": str(label)})
    return rows, f"synthesized reviews ({n} rows; SST-2 not found at {SST2})"


def write_tsv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("sentence\tlabel\n")
        for r in rows:
            fh.write(f"{r['sentence']}\t{r['label']}\n")
    return path


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- (a) - (e)


def bench_render(rows: list[dict[str, str]], data: Path, scratch: Path) -> dict[str, Any]:
    import jinja2

    from langgpt.hf import load_tokenizer

    program = langgpt.load(PROGRAM)
    plan = compile_template(program, ENTRY)
    prompts = [plan.prompt(r, strings=True) for r in rows]

    # a Jinja2 template giving the same text: the constant part (instructions and shots) verbatim
    head = prompts[0][: prompts[0].rindex("Review: ")]
    source = "{% raw %}" + head + "{% endraw %}Review: {{ sentence }}\nSentiment:"
    compiled = jinja2.Environment().from_string(source)
    assert [compiled.render(**r) for r in rows] == prompts, "the Jinja2 template must give the same text"

    def run_a() -> None:
        prompt = plan.prompt
        for r in rows:
            prompt(r, strings=True)

    def run_b() -> None:
        render = compiled.render
        for r in rows:
            render(**r)

    def run_c() -> None:
        for r in rows:
            jinja2.Environment().from_string(source).render(**r)

    for fn in (run_a, run_b):
        fn()  # warm-up
    a, b = [], []
    for _ in range(REPS):
        a.append(timed(run_a))
        b.append(timed(run_b))
    c = [timed(run_c)]

    tok = load_tokenizer("minilm")
    texts = [p + " " + tok.mask_token for p in prompts]
    out = scratch / "out.jsonl"

    def run_d() -> None:
        compile_dataset(program, data=data, output=out, entry=ENTRY, tokenizer=tok, kind="masked", progress=False)

    def run_e() -> None:
        tok(texts)

    run_d()
    run_e()
    d, e = [], []
    for i in range(REPS):  # interleaved, alternating which goes first
        for fn, samples in ((run_d, d), (run_e, e)) if i % 2 == 0 else ((run_e, e), (run_d, d)):
            samples.append(timed(fn))
    with_load = timed(
        lambda: compile_dataset(program, data=data, output=out, entry=ENTRY, model="minilm", progress=False)
    )
    first = json.loads(out.open(encoding="utf-8").readline())
    tokens = sum(len(ids) for ids in tok(texts)["input_ids"]) / len(texts)
    assert first["input_ids"] == tok(texts[0])["input_ids"]
    return {
        "a": a,
        "b": b,
        "c": c,
        "d": d,
        "e": e,
        "d_with_load": with_load,
        "prompt_chars": statistics.mean(len(p) for p in prompts),
        "tokens": tokens,
        "parallelism": os.environ.get("TOKENIZERS_PARALLELISM", "(unset)"),
    }


# ----------------------------------------------------------------------------- memory

CHILD = """
import json, resource, sys, threading, time
from pathlib import Path
sys.path.insert(0, {root!r})

def status(key):
    try:
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def peak_kb():
    # VmHWM: this process's own peak (Linux keeps ru_maxrss across exec, so a child started by a big
    # parent reports the parent's peak there); resource.getrusage where /proc is missing
    return status("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

anon = [status("RssAnon")]
done = threading.Event()
def sample():
    while not done.wait(0.02):
        anon.append(status("RssAnon"))

from langgpt.targets.dataset import compile_dataset
data, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
kwargs = {{"output_format": "hf" if mode == "hf" else "jsonl"}}
if mode == "minilm":
    from langgpt.hf import load_tokenizer
    kwargs.update(tokenizer=load_tokenizer("minilm"), kind="masked")
if mode == "hf":
    import datasets
before, anon_before = peak_kb(), status("RssAnon")
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
t0 = time.perf_counter()
result = compile_dataset({program!r}, data=data, output=out, entry={entry!r}, progress=False, **kwargs)
seconds = time.perf_counter() - t0
done.set()
sampler.join()
after = peak_kb()
maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"before_kb": before, "after_kb": after, "anon_before_kb": anon_before, "anon_peak_kb": max(anon),
                  "maxrss_kb": maxrss, "seconds": seconds, "rows": result.rows}}))
"""


def bench_memory(rows: list[dict[str, str]], scratch: Path) -> list[dict[str, Any]]:
    results = []
    script = CHILD.format(root=str(ROOT), program=PROGRAM, entry=ENTRY)
    for n in RSS_ROWS:
        data = write_tsv(scratch / f"rows_{n}.tsv", [rows[i % len(rows)] for i in range(n)])
        for mode in ("plain", "minilm", "hf"):
            out = scratch / f"out_{n}_{mode}"
            proc = subprocess.run(
                [sys.executable, "-c", script, str(data), str(out), mode],
                capture_output=True,
                text=True,
                check=False,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                raise SystemExit(f"memory run {n} {mode} failed:\n{proc.stderr[-3000:]}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            result.update(n=n, mode=mode, bytes=_size(out))
            results.append(result)
            print(
                f"  {n:>7} rows {mode:6}: peak RSS {result['before_kb'] / 1024:6.0f} MB before, "
                f"{result['after_kb'] / 1024:6.0f} MB after (anon peak {result['anon_peak_kb'] / 1024:.0f} MB), "
                f"{result['seconds']:6.1f} s",
                flush=True,
            )
            shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink(missing_ok=True)
        data.unlink()
    return results


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


# ----------------------------------------------------------------------------- report


def us(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:.1f}"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def build_report(
    info: dict[str, str], n: int, what: str, r: dict[str, Any], mem: list[dict[str, Any]]
) -> tuple[str, list[str]]:
    a, b, c = statistics.median(r["a"]), statistics.median(r["b"]), statistics.median(r["c"])
    d, e = statistics.median(r["d"]), statistics.median(r["e"])
    vs_b, vs_c, d_e = b / a, c / a, d / e
    summary = [
        f"(a) compiled rows vs (b) compiled Jinja2: {vs_b:.2f}x as fast (target >= {MIN_VS_JINJA}x): "
        + ("met" if vs_b >= MIN_VS_JINJA else "NOT met"),
        f"(a) vs (c) Jinja2 from_string per row: {vs_c:.0f}x as fast (target >= {MIN_VS_PROMPTSOURCE:.0f}x): "
        + ("met" if vs_c >= MIN_VS_PROMPTSOURCE else "NOT met"),
        f"(d) compile_dataset / (e) one tokenizer call: {d_e:.2f}x (target <= {MAX_VS_TOKENIZER}x): "
        + ("met" if d_e <= MAX_VS_TOKENIZER else "NOT met"),
    ]
    cmd = shlex.join(
        [
            str(Path(sys.executable).relative_to(ROOT))
            if Path(sys.executable).is_relative_to(ROOT)
            else sys.executable,
            "bench/render.py",
            *sys.argv[1:],
        ]
    )
    out: list[str] = []
    w = out.append
    w("## Render benchmark")
    w("")
    w(f"Written by `bench/render.py`. Command (run from the repository root): `{cmd}`")
    w("")
    w(f"- Machine: {info['cpu']}, {info['cores']}")
    w(f"- Python: {info['python']} on {info['os']}; langgpt {info['langgpt']}")
    w(f"- Date: {info['date']}")
    w(
        f"- Rows: {what}; template `{ENTRY}` of `{PROGRAM}` (instructions, 4 shots, the review, the answer slot), "
        f"{r['prompt_chars']:.0f} characters per prompt, {r['tokens']:.0f} MiniLM tokens per example"
    )
    w(
        f"- Times: wall-clock `time.perf_counter`, median of {REPS} runs over all {n} rows after a warm-up "
        "((a)/(b) alternate, (d)/(e) interleaved); (c) one run. "
        f"`TOKENIZERS_PARALLELISM={r['parallelism']}` for (d) and (e) alike (set by `langgpt.hf`)."
    )
    w("")
    w("### Targets")
    w("")
    w("| Target | Measured | Status |")
    w("|---|---|---|")
    w(
        f"| (a) rows.py at least {MIN_VS_JINJA:g}x the speed of (b) compiled Jinja2 | {vs_b:.2f}x | {verdict(vs_b >= MIN_VS_JINJA)} |"
    )
    w(
        f"| (a) rows.py at least {MIN_VS_PROMPTSOURCE:.0f}x the speed of (c) `from_string` per row | {vs_c:.0f}x "
        f"| {verdict(vs_c >= MIN_VS_PROMPTSOURCE)} |"
    )
    w(
        f"| (d) tokenized dataset at most {MAX_VS_TOKENIZER}x (e) one batched tokenizer call | {d_e:.2f}x "
        f"| {verdict(d_e <= MAX_VS_TOKENIZER)} |"
    )
    w("")
    w("### Rendering and dataset building")
    w("")
    w("| | What | Total (median) | Per row | Rows/s |")
    w("|---|---|---:|---:|---:|")
    rows_ = [
        ("(a)", "`compile_template` once, `plan.prompt(row, strings=True)` per row (values checked)", a),
        ("(b)", "Jinja2 `Environment().from_string(t)` once, `.render(**row)` per row", b),
        ("(c)", "Jinja2 `Environment().from_string(t).render(**row)` per row (PromptSource)", c),
        ("(d)", "`compile_dataset(..., tokenizer=MiniLM)`: read TSV, check, render, tokenize, write JSONL", d),
        ("(e)", "one batched MiniLM fast-tokenizer call on the texts (d) tokenizes", e),
    ]
    for tag, what_, t in rows_:
        w(f"| {tag} | {what_} | {t * 1000:.1f} ms | {us(t, n)} µs | {n / t:,.0f} |")
    w("")
    w(
        plot(
            "render_throughput",
            {"rows per second": ([tag for tag, _, _ in rows_], [n / t for _, _, t in rows_])},
            title="Rows per second: (a) compiled template ... (e) bare tokenizer",
            xlabel="method (see the table)",
            ylabel="rows / s",
            bars=True,
        )
    )
    w("")
    w(
        f'(d) with `model="minilm"` (loading the tokenizer and its config inside the call): '
        f"{r['d_with_load'] * 1000:.0f} ms. Samples (ms): "
        + "; ".join(f"{k} " + ", ".join(f"{x * 1000:.0f}" for x in r[k]) for k in "abcde")
        + "."
    )
    w("")
    if mem:
        w("### Memory: dataset building at 10k and 200k rows")
        w("")
        w(
            "Each run is a fresh process (started before the parent loads Jinja2 or MiniLM): import langgpt "
            "(and load the tokenizer for `minilm`, `datasets` for `hf`), note the peak RSS, run "
            "`compile_dataset` on N rows (the rows above, repeated) and note the peak again. Peak RSS is the "
            "process's `VmHWM` (/proc/self/status), file-backed pages included; `anon` is the peak of `RssAnon` "
            "(heap and other private memory) sampled every 20 ms during the call; `ru_maxrss` is "
            "`resource.getrusage(RUSAGE_SELF).ru_maxrss` at the end, which Linux carries over from the parent "
            "across exec (so it also shows the launching process's peak). `plain` = JSONL without tokens; "
            "`minilm` = JSONL with MiniLM token fields; `hf` = a datasets folder without tokens: there the peak "
            "grows with the data because `datasets` memory-maps the Arrow file it generated while `save_to_disk` "
            "copies it (clean file-backed pages the kernel can drop), while the private memory stays flat."
        )
        w("")
        w(
            "| Rows | Output | Peak RSS before | Peak RSS after | Growth | anon before / peak | ru_maxrss | Time | Output size |"
        )
        w("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for m in mem:
            w(
                f"| {m['n']:,} | {m['mode']} | {m['before_kb'] / 1024:.0f} MB | {m['after_kb'] / 1024:.0f} MB "
                f"| {(m['after_kb'] - m['before_kb']) / 1024:.0f} MB "
                f"| {m['anon_before_kb'] / 1024:.0f} / {m['anon_peak_kb'] / 1024:.0f} MB | {m['maxrss_kb'] / 1024:.0f} MB "
                f"| {m['seconds']:.1f} s | {m['bytes'] / 2**20:.0f} MiB |"
            )
        w("")
        by = {(m["n"], m["mode"]): m for m in mem}
        lo, hi = RSS_ROWS
        parts = [
            f"{mode} {by[(lo, mode)]['after_kb'] / 1024:.0f} -> {by[(hi, mode)]['after_kb'] / 1024:.0f} MB"
            f" (anon {by[(lo, mode)]['anon_peak_kb'] / 1024:.0f} -> {by[(hi, mode)]['anon_peak_kb'] / 1024:.0f} MB)"
            for mode in ("plain", "minilm", "hf")
        ]
        w(f"Peak RSS from {lo:,} to {hi:,} rows ({hi // lo}x the rows): " + "; ".join(parts) + ".")
        w("")
    return "\n".join(out), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000, help="rows for (a)-(e) (default 5000)")
    parser.add_argument("--no-rss", action="store_true", help="skip the 10k / 200k-row memory runs")
    args = parser.parse_args()
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']}; {info['python']}; {info['date']}")
    rows, what = source_rows(args.rows)
    scratch = Path(tempfile.mkdtemp(prefix="lgpt-bench-render-"))
    try:
        data = write_tsv(scratch / "rows.tsv", rows)
        print(f"rows: {what}", flush=True)
        mem: list[dict[str, Any]] = []
        if not args.no_rss:  # first, while this process is still small
            print("memory at 10k and 200k rows ...", flush=True)
            mem = bench_memory(rows, scratch)
        print("(a)-(e) rendering and dataset building ...", flush=True)
        results = bench_render(rows, data, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    section, summary = build_report(info, len(rows), what, results, mem)
    write_section("render", section)
    n = len(rows)
    for tag in "abcde":
        t = statistics.median(results[tag])
        print(f"  ({tag}) {t * 1000:8.1f} ms  {us(t, n):>8} µs/row")
    print("\nSummary:")
    for line in summary:
        print(f"  {line}")
    print("\nwrote docs/benchmarks.md (section render)")


if __name__ == "__main__":
    main()
