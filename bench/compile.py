"""Compile benchmark: in-process latency, scaling with file size, and CLI process wall time.

Run from anywhere (it changes to the repository root first)::

    .venv/bin/python bench/compile.py            # measure, print a summary, update docs/benchmarks.md
    .venv/bin/python bench/compile.py --profile  # cProfile of parse+check+compile of the 100x file only

It measures, in one run:

1. in-process latency after warm-up (median and p90, ``time.perf_counter``) of every example in
   ``prompts/`` (outside ``prompts/errors``), split into ``langgpt.load`` (read + parse + imports),
   ``langgpt.check`` and ``langgpt.compile(..., target="text")``;
2. generated files of 1, 10 and 100 roles of ~100 lines each (written to ``bench/.generated/``, inside
   the repository so the import-root rule holds) and the time ratios against the 1-role file;
3. the wall time of ``lgpt compile prompts/sentiment.lgpt --vars prompts/sentiment.vars.json`` as a
   process against ``python -c "import lark, pydantic, typer, rich"``, interleaved, plus an
   ``-X importtime`` breakdown of the CLI process.

The report replaces the section between ``<!-- bench:compile:start -->`` and
``<!-- bench:compile:end -->`` in docs/benchmarks.md, so other benchmarks can share the file.
Standard library and langgpt only.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import langgpt  # noqa: E402
from bench.report import machine_info, plot, write_section  # noqa: E402

REPORT = Path("docs/benchmarks.md")
START_MARK = "<!-- bench:compile:start -->"
END_MARK = "<!-- bench:compile:end -->"
GENERATED = Path("bench/.generated")
SCALES = (1, 10, 100)

# Targets
MAX_SCALING_RATIO = 120.0  # 100x file: at most 120x the time of the 1x file
MAX_SINGLE_ROLE_MS = 2.0  # one ~100-line role, parse + check + compile, after warm-up
MAX_PROCESS_RATIO = 1.5  # `lgpt compile` process vs. bare `import lark, pydantic, typer, rich`

PROCESS_REPS = 15
PROCESS_WARMUP = 2
IMPORTTIME_RUNS = 5


# ----------------------------------------------------------------------------- timing helpers


@dataclass
class Stats:
    samples: list[float]  # seconds

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        if len(self.samples) < 2:
            return self.samples[0]
        return statistics.quantiles(self.samples, n=10, method="inclusive")[-1]


def measure(fn: Callable[[], Any], *, warmup: int, min_reps: int, max_reps: int, budget_s: float) -> Stats:
    """Call ``fn`` ``warmup`` times, then at least ``min_reps`` and at most ``max_reps`` times, stopping
    early once ``budget_s`` seconds of measured time have passed."""
    for _ in range(warmup):
        fn()
    gc.collect()
    samples: list[float] = []
    spent = 0.0
    while len(samples) < max_reps and (len(samples) < min_reps or spent < budget_s):
        t0 = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - t0
        samples.append(elapsed)
        spent += elapsed
    return Stats(samples)


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


# ----------------------------------------------------------------------------- machine


def command_line() -> str:
    exe = Path(sys.executable)
    try:
        shown = str(exe.relative_to(ROOT)) if exe.is_relative_to(ROOT) else str(exe)
    except ValueError:
        shown = str(exe)
    args = [shown, *sys.argv]
    if Path(sys.argv[0]).resolve() == Path(__file__).resolve():
        args[1] = "bench/compile.py"
    return shlex.join(args)


# ----------------------------------------------------------------------------- 1. examples


def example_files() -> list[Path]:
    return sorted(p for p in Path("prompts").rglob("*.lgpt") if "errors" not in p.relative_to("prompts").parts)


def variables_for(path: Path) -> dict[str, Any]:
    vars_file = path.with_name(path.stem + ".vars.json")
    if vars_file.is_file():
        data = json.loads(vars_file.read_text(encoding="utf-8"))
        assert isinstance(data, dict), vars_file
        return data
    return {}


@dataclass
class ExampleResult:
    path: Path
    lines: int
    has_vars: bool
    load: Stats
    check: Stats
    compile: Stats


def bench_examples() -> list[ExampleResult]:
    results = []
    for path in example_files():
        rel = str(path)
        variables = variables_for(path)
        program = langgpt.load(rel)
        problems = [d for d in langgpt.check(program) if d.is_error]
        if problems:
            raise SystemExit(f"{rel} has errors: {problems}")
        langgpt.compile(program, target="text", variables=variables)
        opts: dict[str, Any] = {"warmup": 20, "min_reps": 50, "max_reps": 2000, "budget_s": 0.6}
        results.append(
            ExampleResult(
                path=path,
                lines=len(path.read_text(encoding="utf-8").splitlines()),
                has_vars=bool(variables),
                load=measure(partial(langgpt.load, rel), **opts),
                check=measure(partial(langgpt.check, program), **opts),
                compile=measure(partial(langgpt.compile, program, target="text", variables=variables), **opts),
            )
        )
    return results


# ----------------------------------------------------------------------------- 2. generated files

DOMAINS = (
    ("billing", "invoices, refunds and payment methods"),
    ("network", "outages, latency and router configuration"),
    ("privacy", "personal data requests, consent and retention"),
    ("mobile", "the iOS and Android apps, notifications and sign-in"),
    ("shipping", "parcels, customs forms and delivery windows"),
    ("accounts", "passwords, two-factor authentication and account recovery"),
    ("hardware", "warranty claims, repairs and replacement parts"),
    ("onboarding", "first-week setup, imports and team invitations"),
)

SHARED_HEADER = """lgpt 1

# Generated by bench/compile.py: {n} support role(s) of about 100 lines each, all extending the
# base assistant from the bundled role library. Do not edit; it is rewritten on every run.

import "../../prompts/roles/common/base.lgpt" as base

var lang: text = "English" "language of the conversation"
var audience: text "who reads the answers"
var strict: bool = false "escalate instead of guessing when a policy is unclear"
var glossary: list[text] = ["LangGPT", "SLA", "ticket", "workspace"] "terms never to translate or rephrase"
var tier: label {{free, pro, enterprise}} = pro "the customer's plan"
"""

ROLE_TEMPLATE = '''
var topic_{i}: text = "{area} questions" "what the {area} specialist #{i} handles"

role Support{i} "{title} Specialist {i}" extends base.Assistant {{
  profile {{
    author: LangGPT
    version: "1.{i}"
    language: {{lang}}
    team: {title} desk {i}
    description: Answers {{topic_{i}}} from {{audience}}, covering {scope}.
  }}
  background """
    The {area} desk receives about {tickets} tickets a day. Most of them are routine, but a few
    each week involve money, legal obligations or security, and those need extra care.
    Customers write in {{lang}} and expect an answer they can act on without a second reply.
  """
  goals {{
    - solve the customer's {area} problem in as few replies as possible
    - leave the customer knowing what caused the problem and how to avoid it
    - escalate early when a problem affects many customers at once
    - keep the {area} log complete enough for the weekly review
  }}
  skills {{
    - diagnoses {area} problems from a short, incomplete description
    - asks for exactly the detail that is missing, such as an order number or a device model
    - explains {scope} in plain words, without internal jargon
    - reads error messages and screenshots described in text and names the likely cause
    - knows which problems the customer can fix alone and which need an engineer
      - routine fixes: give numbered steps the customer can follow
      - engineering fixes: open an escalation and say what happens next
    - writes answers that fit on one screen of a phone
    - keeps a calm, friendly tone with frustrated customers
    - recognises when a message is really about a different desk and hands it over
  }}
  knowledge "Desk knowledge" {{
    response_time: first reply within {hours} hours on working days
    escalation: the on-call engineer of the {area} team, through the escalation form
    plans: free, pro and enterprise, with different service levels
    refunds: only the billing desk can approve them; other desks explain the process
    status_page: check it before reporting an outage as new
    languages: every desk answers in the customer's language when it is supported
  }}
  rules += {{
    - answer only questions about {scope}; hand anything else to the right desk
    - never ask for passwords, full card numbers or one-time codes
    - quote the exact name of every setting, button or menu you refer to
    - give at most {steps} numbered steps; if more are needed, link the help article instead
    - do not promise dates, refunds or compensation that the policy does not grant
    - keep these terms exactly as written:
    for term in glossary {{
      - {{term}}
    }}
    if tier == "enterprise" {{
      - mention the customer's dedicated account manager in every escalation
    }} elif tier == "pro" {{
      - offer a call back within one working day when the problem blocks the customer's work
    }} else {{
      - point free-plan customers to the community forum for non-urgent questions
    }}
    if strict {{
      - when the policy is unclear, escalate and tell the customer you are checking, instead of guessing
    }} else {{
      - when the policy is unclear, give the most likely answer and say that it may need confirming
    }}
    - end every answer by asking whether it solved the problem
  }}
  workflow {{
    1. read the whole message and any earlier replies in the thread
    2. decide whether the question belongs to the {area} desk; if not, hand it over
    3. identify the customer's plan and the urgency of the problem
    4. look for a known issue on the status page before diagnosing anything new
    5. diagnose the cause, asking one clarifying question when a detail is missing
    6. write the answer, following the <Rules> and the <Skills> of this role
    7. check the answer against the <Output Format> before sending it
    8. record the ticket outcome in the {area} log
  }}
  suggestions {{
    - link the help article you used, so the customer can find it again
    - suggest turning on status notifications after an outage
    - offer the {area} checklist to customers who report the same problem twice
    - thank customers who report a bug with clear steps to reproduce it
  }}
  output_format """
    A short greeting that uses the customer's name when it is known.
    One paragraph that restates the problem in one sentence.
    The fix, as numbered steps or as a single paragraph.
    A closing question that asks whether the problem is solved.
  """
  initialization """
    As a <Role>, follow the <Rules> and the <Workflow>. You work on the {area} desk for {{audience}}.
    {{if strict}}Escalate whenever a policy is unclear.{{else}}Use your judgement on unclear policies.{{end}}
    Greet the customer in {{lang}} and ask how you can help with {{topic_{i}}}.
  """
}}
'''

GENERATED_VARIABLES: dict[str, Any] = {"audience": "small-business customers"}


def generate(n_roles: int) -> str:
    parts = [SHARED_HEADER.format(n=n_roles)]
    for i in range(n_roles):
        area, scope = DOMAINS[i % len(DOMAINS)]
        parts.append(
            ROLE_TEMPLATE.format(
                i=i,
                area=area,
                title=area.capitalize(),
                scope=scope,
                tickets=40 + 7 * (i % 13),
                hours=2 + i % 6,
                steps=5 + i % 4,
            )
        )
    return "".join(parts)


def write_generated() -> dict[int, Path]:
    GENERATED.mkdir(parents=True, exist_ok=True)
    ignore = GENERATED / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Files written by bench/compile.py on every run.\n*\n", encoding="utf-8")
    paths = {}
    for n in SCALES:
        path = GENERATED / f"roles_{n}x.lgpt"
        path.write_text(generate(n), encoding="utf-8")
        paths[n] = path
    return paths


def pipeline(rel: str) -> langgpt.CompileResult:
    """What `lgpt compile` does in-process: load (read + parse + imports), then compile (checks + render)."""
    return langgpt.compile(langgpt.load(rel), target="text", variables=GENERATED_VARIABLES)


@dataclass
class ScaleResult:
    roles: int
    lines: int
    nbytes: int
    total: Stats  # load + compile(text) (compile runs the checks itself)
    load: Stats
    check: Stats
    compile: Stats
    render_all: Stats  # langgpt.render of every role: the renderer's work over the whole file


def bench_scaling(paths: dict[int, Path]) -> list[ScaleResult]:
    budgets = {1: (20, 100, 3000, 1.5), 10: (5, 20, 500, 1.5), 100: (2, 5, 50, 3.0)}
    results = []
    for n, path in paths.items():
        rel = str(path)
        program = langgpt.load(rel)
        problems = langgpt.check(program)
        if problems:
            raise SystemExit(f"generated {rel} is not clean: {[d.message for d in problems[:5]]}")
        names = [r.name for r in program.document.roles()]
        assert len(names) == n, (n, names)
        warmup, lo, hi, budget = budgets[n]
        opts: dict[str, Any] = {"warmup": warmup, "min_reps": lo, "max_reps": hi, "budget_s": budget}

        def render_all(program: langgpt.Program = program, names: list[str] = names) -> None:
            for name in names:
                langgpt.render(program, GENERATED_VARIABLES, entry=name)

        text = path.read_text(encoding="utf-8")
        results.append(
            ScaleResult(
                roles=n,
                lines=len(text.splitlines()),
                nbytes=len(text.encode("utf-8")),
                total=measure(partial(pipeline, rel), **opts),
                load=measure(partial(langgpt.load, rel), **opts),
                check=measure(partial(langgpt.check, program), **opts),
                compile=measure(
                    partial(langgpt.compile, program, target="text", variables=GENERATED_VARIABLES), **opts
                ),
                render_all=measure(render_all, **opts),
            )
        )
    return results


def profile_100x(path: Path, top: int = 15) -> None:
    """cProfile of the 100x file: the whole pipeline, then the checks alone and the rendering of every
    role alone (the two stages that grow faster than the file)."""
    rel = str(path)
    for _ in range(2):
        pipeline(rel)
    program = langgpt.load(rel)
    names = [r.name for r in program.document.roles()]

    def render_all() -> None:
        for name in names:
            langgpt.render(program, GENERATED_VARIABLES, entry=name)

    jobs: list[tuple[str, Callable[[], Any], tuple[str, ...]]] = [
        (f"3 x load + compile(text) of {rel}", lambda: [pipeline(rel) for _ in range(3)], ("cumulative", "tottime")),
        (f"3 x check(program) of {rel}", lambda: [langgpt.check(program) for _ in range(3)], ("tottime",)),
        (f"render of each of the {len(names)} roles of {rel}", render_all, ("tottime",)),
    ]
    for title, job, keys in jobs:
        profiler = cProfile.Profile()
        profiler.enable()
        job()
        profiler.disable()
        for key in keys:
            print(f"\n=== cProfile: {title}, top {top} by {key} ===")
            pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats(key).print_stats(top)


# ----------------------------------------------------------------------------- 3. processes


def lgpt_command() -> list[str]:
    script = Path(sys.executable).with_name("lgpt")
    head = [str(script)] if script.is_file() and os.access(script, os.X_OK) else [sys.executable, "-m", "langgpt.cli"]
    return [*head, "compile", "prompts/sentiment.lgpt", "--vars", "prompts/sentiment.vars.json"]


IMPORT_BASELINE = [sys.executable, "-c", "import lark, pydantic, typer, rich"]


def shown(cmd: list[str]) -> str:
    parts = []
    for part in cmd:
        p = Path(part)
        if p.is_absolute() and p.is_relative_to(ROOT):
            part = str(p.relative_to(ROOT))
        parts.append(part)
    return shlex.join(parts)


def run_once(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{shown(cmd)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return elapsed


def byte_compile_package() -> None:
    """The baseline's packages were byte-compiled by pip at install time; an editable install of
    langgpt is not, and with PYTHONDONTWRITEBYTECODE set (as on CI machines) every run would compile
    its sources again. Compile them once so both sides start from bytecode, as a wheel install would."""
    import compileall

    compileall.compile_dir(str(ROOT / "langgpt"), quiet=1)


def bench_processes() -> tuple[Stats, Stats]:
    byte_compile_package()
    cli, base = lgpt_command(), IMPORT_BASELINE
    for _ in range(PROCESS_WARMUP):
        run_once(cli)
        run_once(base)
    cli_s: list[float] = []
    base_s: list[float] = []
    for i in range(PROCESS_REPS):  # interleaved, alternating which goes first
        if i % 2 == 0:
            cli_s.append(run_once(cli))
            base_s.append(run_once(base))
        else:
            base_s.append(run_once(base))
            cli_s.append(run_once(cli))
    return Stats(cli_s), Stats(base_s)


@dataclass
class ImportCost:
    module: str
    depth: int
    self_us: float
    cumulative_us: float


def import_times() -> tuple[list[str], list[ImportCost]]:
    """Median -X importtime costs of the CLI compile process, per module, over IMPORTTIME_RUNS runs."""
    cmd = [sys.executable, "-X", "importtime", "-m", "langgpt.cli", *lgpt_command()[-4:]]
    runs: dict[str, list[tuple[int, int, int]]] = {}
    for _ in range(IMPORTTIME_RUNS):
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, check=True, text=True)
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s*(\d+)\s*\|\s*(\d+)\s*\|( *)(\S.*)$", line)
            if m:
                depth = (len(m.group(3)) - 1) // 2
                runs.setdefault(m.group(4), []).append((depth, int(m.group(1)), int(m.group(2))))
    costs = [
        ImportCost(
            module=name,
            depth=rows[0][0],
            self_us=statistics.median(r[1] for r in rows),
            cumulative_us=statistics.median(r[2] for r in rows),
        )
        for name, rows in runs.items()
    ]
    return cmd, costs


# ----------------------------------------------------------------------------- report


def build_report(
    info: dict[str, str],
    examples: list[ExampleResult],
    scaling: list[ScaleResult],
    processes: tuple[Stats, Stats],
    imports: tuple[list[str], list[ImportCost]],
) -> tuple[str, list[str]]:
    by_n = {r.roles: r for r in scaling}
    base = by_n[1]
    ratio_100 = by_n[100].total.median / base.total.median
    single_ms = base.total.median * 1000
    compile_only_ms = base.compile.median * 1000
    cli, bare = processes
    proc_ratio = cli.median / bare.median

    summary = [
        f"100x file / 1x file (load + compile): {ratio_100:.1f}x  (target <= {MAX_SCALING_RATIO:.0f}x): "
        + ("met" if ratio_100 <= MAX_SCALING_RATIO else "NOT met"),
        f"single ~100-line role, load + compile: {single_ms:.2f} ms  (target < {MAX_SINGLE_ROLE_MS:g} ms): "
        + ("met" if single_ms < MAX_SINGLE_ROLE_MS else "NOT met")
        + f"   [compile() alone on the loaded program: {compile_only_ms:.2f} ms]",
        f"`lgpt compile` process / bare imports: {ms(cli.median)} ms / {ms(bare.median)} ms = {proc_ratio:.2f}x"
        f"  (target <= {MAX_PROCESS_RATIO}x): " + ("met" if proc_ratio <= MAX_PROCESS_RATIO else "NOT met"),
    ]

    out: list[str] = []
    w = out.append
    w("## Compile benchmark")
    w("")
    w(f"Written by `bench/compile.py`. Command (run from the repository root): `{command_line()}`")
    w("")
    w(f"- Machine: {info['cpu']}, {info['cores']}")
    w(f"- Python: {info['python']} on {info['os']}; langgpt {info['langgpt']}")
    w(f"- Date: {info['date']}")
    w("")
    w("All in-process times are wall-clock `time.perf_counter` after warm-up; ms = milliseconds.")
    w("")
    w("### Targets")
    w("")
    w("| Target | Measured | Status |")
    w("|---|---|---|")
    w(
        f"| 100x file takes at most {MAX_SCALING_RATIO:.0f}x the time of the 1x file (load + compile) "
        f"| {ratio_100:.1f}x ({ms(by_n[100].total.median)} ms vs {ms(base.total.median)} ms) "
        f"| {verdict(ratio_100 <= MAX_SCALING_RATIO)} |"
    )
    w(
        f"| one ~100-line role (the 1x file, {base.lines} lines), load + check + compile in-process, "
        f"under {MAX_SINGLE_ROLE_MS:g} ms "
        f"| {single_ms:.2f} ms median (`compile()` alone on the loaded program: {compile_only_ms:.2f} ms) "
        f"| {verdict(single_ms < MAX_SINGLE_ROLE_MS)} |"
    )
    w(
        f'| `lgpt compile` process at most {MAX_PROCESS_RATIO}x `python -c "import lark, pydantic, typer, rich"` '
        f"| {proc_ratio:.2f}x ({ms(cli.median)} ms vs {ms(bare.median)} ms) "
        f"| {verdict(proc_ratio <= MAX_PROCESS_RATIO)} |"
    )
    w("")

    w("### 1. In-process latency of the examples")
    w("")
    w(
        "Per file in `prompts/` (outside `prompts/errors`), with `NAME.vars.json` as variables when present. "
        "`load` = `langgpt.load(path)` (read, parse, imports); `check` = `langgpt.check(program)`; "
        '`compile` = `langgpt.compile(program, target="text", variables=...)`, which runs the checks again '
        "before rendering. Median / p90 in ms."
    )
    w("")
    w("| File | Lines | Vars | Reps | load | check | compile (text) | load + compile |")
    w("|---|---:|:-:|---:|---:|---:|---:|---:|")
    for ex in examples:
        w(
            f"| `{ex.path}` | {ex.lines} | {'yes' if ex.has_vars else '-'} | {ex.load.n}/{ex.check.n}/{ex.compile.n} "
            f"| {ms(ex.load.median)} / {ms(ex.load.p90)} | {ms(ex.check.median)} / {ms(ex.check.p90)} "
            f"| {ms(ex.compile.median)} / {ms(ex.compile.p90)} | {ms(ex.load.median + ex.compile.median)} |"
        )
    w("")

    w("### 2. Scaling with file size")
    w("")
    w(
        f"Generated files in `{GENERATED}/` (rewritten each run): N roles of ~100 lines each (profile fields, "
        "background, skills with a nested list, a custom field section, `rules +=` with `for`/`if`/`elif`, "
        "workflow, output format, initialization with `<Rules>`-style references and `{if}`), one variable per "
        "role plus shared ones, every role extending `base.Assistant` imported from `prompts/roles/common`. "
        '`total` = `langgpt.load` + `langgpt.compile(target="text")` (what `lgpt compile` does; it compiles '
        "the first role). `render all` = `langgpt.render` of every role in the file, one after the other. "
        "Median ms (p90 in brackets); ratio = median / median of the 1x file."
    )
    w("")
    w("| Roles | Lines | KiB | Reps | total | ratio | load | check | compile | render all | render all ratio |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for sc in scaling:
        w(
            f"| {sc.roles} | {sc.lines} | {sc.nbytes / 1024:.0f} | {sc.total.n} "
            f"| {ms(sc.total.median)} ({ms(sc.total.p90)}) | {sc.total.median / base.total.median:.1f}x "
            f"| {ms(sc.load.median)} | {ms(sc.check.median)} | {ms(sc.compile.median)} "
            f"| {ms(sc.render_all.median)} | {sc.render_all.median / base.render_all.median:.1f}x |"
        )
    w("")
    w(
        "Per-stage ratios 100x / 1x: "
        + ", ".join(
            f"{name} {getattr(by_n[100], name).median / getattr(base, name).median:.1f}x"
            for name in ("load", "check", "compile", "render_all")
        )
        + "."
    )
    w("")
    lines = [float(sc.lines) for sc in scaling]
    first = scaling[0]
    w(
        plot(
            "compile_scaling",
            {
                "load + compile (measured)": (lines, [sc.total.median * 1000 for sc in scaling]),
                "linear from the 1x file": (
                    lines,
                    [first.total.median * 1000 * sc.lines / first.lines for sc in scaling],
                ),
            },
            title="Compile latency vs file size",
            xlabel="lines of .lgpt",
            ylabel="ms (median)",
            log=True,
        )
    )
    w("")

    w("### 3. Process wall time")
    w("")
    w(
        f"Interleaved runs ({PROCESS_WARMUP} warm-up each, then {PROCESS_REPS} each, alternating which goes "
        "first), stdout discarded, cwd = repository root."
    )
    w("")
    w("| Command | Median ms | p90 ms | Min ms |")
    w("|---|---:|---:|---:|")
    w(f"| `{shown(lgpt_command())}` | {ms(cli.median)} | {ms(cli.p90)} | {ms(min(cli.samples))} |")
    w(f"| `{shown(IMPORT_BASELINE)}` | {ms(bare.median)} | {ms(bare.p90)} | {ms(min(bare.samples))} |")
    w("")
    w(
        f"Ratio of medians: **{proc_ratio:.2f}x**; the CLI costs {ms(cli.median - bare.median)} ms above the bare imports."
    )
    w("")
    cmd, costs = imports
    top_level = sorted((c for c in costs if c.depth == 0), key=lambda c: -c.cumulative_us)[:10]
    by_self = sorted(costs, key=lambda c: -c.self_us)[:10]
    w(f"Import costs of the CLI process (`{shown(cmd)}`, median of {IMPORTTIME_RUNS} runs):")
    w("")
    w("| Top-level import (not nested) | Cumulative ms | | Module (any depth) | Self ms |")
    w("|---|---:|---|---|---:|")
    for a, b in zip(top_level, by_self, strict=False):
        w(f"| `{a.module}` | {a.cumulative_us / 1000:.1f} | | `{b.module}` | {b.self_us / 1000:.1f} |")
    w("")
    return "\n".join(out), summary


def write_report(section: str) -> None:
    write_section("compile", section)


def print_imports(imports: tuple[list[str], list[ImportCost]]) -> None:
    cmd, costs = imports
    print(f"\nImport time of the CLI process: {shown(cmd)} (median of {IMPORTTIME_RUNS} runs)")
    print("  top 10 top-level imports by cumulative ms:")
    for c in sorted((c for c in costs if c.depth == 0), key=lambda c: -c.cumulative_us)[:10]:
        print(f"    {c.cumulative_us / 1000:8.1f}  {c.module}")
    print("  top 10 modules (any depth) by self ms:")
    for c in sorted(costs, key=lambda c: -c.self_us)[:10]:
        print(f"    {c.self_us / 1000:8.1f}  {c.module}  (cumulative {c.cumulative_us / 1000:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--profile", action="store_true", help="only print a cProfile of load + compile of the 100x file"
    )
    args = parser.parse_args()
    paths = write_generated()
    if args.profile:
        profile_100x(paths[100])
        return

    started = time.perf_counter()
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']}; {info['python']}; {info['date']}")
    print("1/3 in-process latency of the examples ...", flush=True)
    examples = bench_examples()
    for ex in examples:
        print(
            f"  {ex.path!s:40} load {ms(ex.load.median):>7}  check {ms(ex.check.median):>7}"
            f"  compile {ms(ex.compile.median):>7} ms (median)"
        )
    print("2/3 scaling with generated files ...", flush=True)
    scaling = bench_scaling(paths)
    base = scaling[0]
    for sc in scaling:
        print(
            f"  {sc.roles:4} roles {sc.lines:6} lines: total {ms(sc.total.median):>8} ms"
            f" ({sc.total.median / base.total.median:6.1f}x)  load {ms(sc.load.median)}  check {ms(sc.check.median)}"
            f"  compile {ms(sc.compile.median)}  render all {ms(sc.render_all.median)}"
            f" ({sc.render_all.median / base.render_all.median:.1f}x)"
        )
    print("3/3 process wall time ...", flush=True)
    processes = bench_processes()
    imports = import_times()
    print_imports(imports)
    section, summary = build_report(info, examples, scaling, processes, imports)
    write_report(section)
    print("\nSummary:")
    for line in summary:
        print(f"  {line}")
    print(f"\nwrote {REPORT} (section {START_MARK}) in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
