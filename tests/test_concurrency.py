"""Thread and process safety: parallel parses, checks, formats, imports and compiles give exactly what
sequential runs give, and the API is reentrant.

The parser is one shared Lark instance built lazily under a lock; the lexer's compiled regexes are
cached in a module dict; comments and braces are collected in thread-local sinks. If the sinks were
module globals, concurrent parses would steal each other's comments (the ``ast`` target and ``fmt``
output, which keep comments, would differ from the sequential baseline); if parser construction were
not guarded, or a lazily built scanner raced, some parses would fail or differ.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import REPO_ROOT, error_files, example_files, vars_for

import langgpt
from langgpt import parser as parser_module
from langgpt.errors import DiagnosticError, UsageError

TARGETS = ("text", "messages", "markdown", "json", "yaml", "ast")
IMPORT_INPUTS = [
    ("tests/fixtures/markdown/collection.md", "markdown"),
    ("tests/fixtures/markdown/chinese_crlf.md", "markdown"),
    ("tests/fixtures/markdown/slots_and_escapes.md", "markdown"),
    ("tests/fixtures/openprompt/sentiment.openprompt", "openprompt"),
]


def _jobs() -> list[tuple[str, str, str | None]]:
    """(kind, path, detail) for every unit of work: compile each example entry x target, check the
    broken files, format every file, parse source text in memory, and import other formats."""
    jobs: list[tuple[str, str, str | None]] = []
    for path in example_files():
        for target in TARGETS:
            jobs.append(("compile", path, target))
        jobs.append(("parse", path, None))
        jobs.append(("fmt", path, None))
    for path in error_files():
        jobs.append(("check", path, None))
        jobs.append(("fmt", path, None))
    for path, fmt in IMPORT_INPUTS:
        if (REPO_ROOT / path).exists():
            jobs.append(("import", path, fmt))
    return jobs


def run_job(job: tuple[str, str, str | None]) -> str:
    """One unit of work, its result as a string (errors included, so failures compare too)."""
    from langgpt.fmt import format_source
    from langgpt.importers import import_text

    kind, path, detail = job
    try:
        if kind == "compile":
            program = langgpt.load(path)
            outs = []
            for entry in langgpt.entries(program):
                try:
                    outs.append(langgpt.compile(program, detail or "text", vars_for(path), entry=entry).output)
                except UsageError as exc:
                    outs.append(f"UsageError: {exc}")
            return "\n--\n".join(outs)
        if kind == "parse":
            text = (REPO_ROOT / path).read_text(encoding="utf-8")
            program = langgpt.parse(text, path, base_dir=(REPO_ROOT / path).parent)
            return langgpt.compile(program, "ast").output
        if kind == "check":
            return repr([(d.code, d.message, d.span) for d in langgpt.check(langgpt.load(path))])
        if kind == "fmt":
            return format_source((REPO_ROOT / path).read_text(encoding="utf-8"), path)
        if kind == "import":
            result = import_text((REPO_ROOT / path).read_text(encoding="utf-8-sig"), path, detail or "markdown")
            return result.source + repr([n.message for n in result.notes])
    except DiagnosticError as exc:
        return "DiagnosticError: " + repr([(d.code, d.message, d.span) for d in exc.diagnostics])
    raise AssertionError(kind)


@pytest.fixture(scope="module")
def baseline() -> dict[tuple[str, str, str | None], str]:
    return {job: run_job(job) for job in _jobs()}


def test_jobs_cover_comments_and_errors(baseline: dict[tuple[str, str, str | None], str]) -> None:
    # The comparison is only meaningful if outputs carry comments and diagnostics.
    assert any('"comments"' in out and "#" in out for (kind, _, _), out in baseline.items() if kind == "parse")
    assert sum(out.startswith("DiagnosticError") for out in baseline.values()) >= 3
    assert any(kind == "import" for kind, _, _ in baseline)


def test_threads_match_sequential(
    baseline: dict[tuple[str, str, str | None], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 8 threads x 50 jobs each, started together on a fresh parser (the lazy construction and the
    # lexer's scanner building race too). Any mismatch with the sequential baseline fails the test.
    from langgpt import _lexer

    monkeypatch.setattr(parser_module, "_parser", None)
    monkeypatch.setattr(_lexer, "_COMPILED", {})
    jobs = list(baseline)
    n_threads, per_thread = 8, 50
    start = threading.Barrier(n_threads)
    mismatches: list[tuple[str, str, str | None]] = []

    def worker(index: int) -> int:
        start.wait()
        done = 0
        for k in range(per_thread):
            job = jobs[(index * 17 + k * 7) % len(jobs)]
            if run_job(job) != baseline[job]:
                mismatches.append(job)
            done += 1
        return done

    with ThreadPoolExecutor(n_threads) as pool:
        counts = list(pool.map(worker, range(n_threads)))
    assert counts == [per_thread] * n_threads
    assert mismatches == []
    assert parser_module._parser is not None


def _process_worker(args: tuple[int, list[tuple[str, str, str | None]]]) -> list[str]:
    """Runs in a fresh (spawned) process: a few threads of jobs on that process's own new parser."""
    import os

    index, jobs = args
    os.chdir(REPO_ROOT)
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(run_job, jobs[index::2]))


def test_processes_match_sequential(baseline: dict[tuple[str, str, str | None], str]) -> None:
    # Two spawned processes (no state inherited: each builds its parser from the shipped JSON
    # tables), each with 4 threads. A process-global cache written to a shared place, or tables
    # that load differently, show up as a mismatch.
    jobs = list(baseline)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        results = list(pool.map(_process_worker, [(0, jobs), (1, jobs)]))
    for index, outs in enumerate(results):
        assert outs == [baseline[job] for job in jobs[index::2]]


@pytest.mark.parametrize(
    "mode",
    [
        "thread",
        "nested",
    ],
)
def test_compile_inside_a_running_compile(
    baseline: dict[tuple[str, str, str | None], str], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # Reentrancy: while a parse is in progress (inside the lexer, with this thread's comment sinks
    # live) another compile runs, once in a second thread and once nested in the same thread. If the
    # sinks or any module state were shared, the outer parse would lose or gain comments (its ast
    # output would differ) or the nested one would.
    outer_job = ("parse", "prompts/sentiment.lgpt", None)
    inner_jobs = [("compile", "prompts/roles/code_reviewer.lgpt", "text"), ("parse", "prompts/weather.lgpt", None)]
    original = parser_module._collect
    inner_results: list[tuple[str, str]] = []
    fired: list[bool] = []  # fire once in all: the nested runs' own comments must not nest again

    def collect(tok):  # type: ignore[no-untyped-def]
        if tok.type == "COMMENT" and not fired:
            fired.append(True)
            for job in inner_jobs:
                if mode == "thread":
                    box: list[str] = []
                    thread = threading.Thread(target=lambda job=job, box=box: box.append(run_job(job)))
                    thread.start()
                    thread.join()
                    inner_results.append((mode, box[0] if box else "<no result>"))
                else:
                    inner_results.append((mode, run_job(job)))
        return original(tok)

    monkeypatch.setattr(parser_module, "_collect", collect)
    monkeypatch.setitem(parser_module._CALLBACKS, "COMMENT", collect)
    # the shared parser holds the callbacks it was built with: rebuild it with the wrapper
    monkeypatch.setattr(parser_module, "_parser", None)
    outer = run_job(outer_job)
    assert inner_results, "the hook never fired: the test did not nest anything"
    assert outer == baseline[outer_job]
    expected = [baseline[job] for job in inner_jobs]
    assert [out for _, out in inner_results] == expected


def test_gc_state_restored_after_parallel_parses(baseline: dict[tuple[str, str, str | None], str]) -> None:
    # parse() disables the cyclic GC while it runs; with threads it must still end enabled.
    import gc

    assert gc.isenabled()
    jobs = [job for job in baseline if job[0] == "parse"] * 10
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run_job, jobs))
    assert gc.isenabled()


def test_results_do_not_depend_on_cwd_per_thread(tmp_path: Path) -> None:
    # Sanity: loading by absolute path from threads gives the same as from the main thread.
    path = REPO_ROOT / "prompts" / "sentiment.lgpt"
    expected = langgpt.compile(langgpt.load(path), "text", vars_for("prompts/sentiment.lgpt")).output
    with ThreadPoolExecutor(4) as pool:
        outs = list(
            pool.map(
                lambda _: langgpt.compile(langgpt.load(path), "text", vars_for("prompts/sentiment.lgpt")).output,
                range(16),
            )
        )
    assert outs == [expected] * 16
