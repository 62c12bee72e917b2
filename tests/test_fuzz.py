"""Fuzzing: for ANY input, every public entry point returns normally or raises DiagnosticError / UsageError.

Covers ``langgpt.parse``, ``check``, ``entries``, ``compile`` (every text target, every entry),
``fmt.format_source`` and every importer. Any other exception (RecursionError included) or a hang
(more than ``CASE_TIMEOUT`` seconds, via ``signal.alarm``) is a failure.

(a) seeded mutation fuzzing of the example and fixture files, (b) grammar-aware generation with
hypothesis, (c) the CLI as a subprocess. ``bench/fuzz.py`` reuses the generators here for long runs.

``FormatError`` (the formatter refusing because its output would change the meaning) is a documented
refusal of ``format_source``, so it is tolerated there, and counted separately by ``bench/fuzz.py``.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import langgpt
from langgpt import DiagnosticError, UsageError
from langgpt.fmt import FormatError, format_source
from langgpt.importers import import_text

ROOT = Path(__file__).resolve().parent.parent
TEXT_TARGETS = ("text", "messages", "markdown", "json", "yaml", "ast")
IMPORT_FORMATS = ("markdown", "json", "yaml", "openprompt", "promptsource")
ALLOWED: tuple[type[BaseException], ...] = (DiagnosticError, UsageError)
CASE_TIMEOUT = 5  # seconds per call


# --------------------------------------------------------------------------------------------- seeds


def seed_files() -> list[tuple[str, str]]:
    """(path relative to the repo root, format) of every seed file: ``lgpt`` or an importer format."""
    out: list[tuple[str, str]] = []
    for p in sorted((ROOT / "prompts").rglob("*.lgpt")):
        out.append((p.relative_to(ROOT).as_posix(), "lgpt"))
    fixtures = ROOT / "tests" / "fixtures"
    for p in sorted((fixtures / "markdown").iterdir()):
        out.append((p.relative_to(ROOT).as_posix(), "markdown"))
    for p in sorted((fixtures / "structured").iterdir()):
        out.append((p.relative_to(ROOT).as_posix(), "json" if p.suffix == ".json" else "yaml"))
    for p in sorted((fixtures / "openprompt").iterdir()):
        out.append((p.relative_to(ROOT).as_posix(), "openprompt"))
    for p in sorted((fixtures / "promptsource").iterdir()):
        out.append((p.relative_to(ROOT).as_posix(), "promptsource"))
    return out


def seed_vars(path: str) -> dict[str, Any]:
    vars_path = ROOT / Path(path).with_suffix(".vars.json")
    if vars_path.suffix and vars_path.exists():
        data = json.loads(vars_path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    return {}


# ------------------------------------------------------------------------------------------ mutators

UNICODE_SAMPLES = [
    "中文",
    "规则",
    "角色",
    "😀",
    "👩‍💻",
    "🏳️‍🌈",
    "e\u0301",
    "\u0300\u0301\u0302",
    "\u200b",
    "\u200d",
    "\u202e",
    "\u2028",
    "\u2029",
    "\u00a0",
    "\ufeff",
    "\U0001f600" * 3,
    "ß",
    "İ",
    "ﬁ",
    "\x0b",
    "\x0c",
    "\x85",
    "\t",
    "\r",
    "\x1b[31m",
    "\ud7ff",
    "\uffff",
    "\U0010ffff",
]
INVALID_BYTES = [b"\xff", b"\xfe", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80", b"\xc0\xaf"]
TOKENS = [
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    '"',
    '"""',
    'r"',
    "'",
    ":",
    ",",
    "-",
    "1.",
    "<",
    ">",
    "<Rules>",
    "<Role>",
    "{x}",
    "{if x}",
    "{else}",
    "{end}",
    "{for x in xs}",
    "{#",
    "#}",
    "\\",
    "\\{",
    "#",
    "//",
    "=",
    "|",
    "*",
    "lgpt 1",
    "lgpt 2",
    "var ",
    "role ",
    "template ",
    "examples ",
    "import ",
    "from ",
    "if ",
    "else ",
    "for ",
    " in ",
    "extends ",
    "priority ",
    "pick ",
    "seed ",
    "truncate ",
    "text",
    "bool",
    "int",
    "list[",
    "label ",
    "---",
    "- ",
    "## ",
    "# Role:",
    '{"mask"}',
    '{"placeholder":"text_a"}',
    '{"soft":',
    "{{",
    "}}",
    "&a",
    "*a",
    "!!python/object",
    "null",
    "true",
    "1e999",
    "-0",
    "NaN",
]
NEST_OPENERS = {
    "lgpt": ("if x {\n", "}\n"),
    "json": ('{"a":', "}"),
    "yaml": ("- ", ""),
    "markdown": ("#", ""),
    "openprompt": ('{"soft":', "}"),
    "promptsource": ("[", "]"),
}


def _span(rng: random.Random, data: bytes) -> tuple[int, int]:
    if not data:
        return 0, 0
    i = rng.randrange(len(data))
    return i, min(len(data), i + rng.randint(1, 64))


def m_flip(rng: random.Random, data: bytes, fmt: str) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(b))
        b[i] = b[i] ^ (1 << rng.randrange(8)) if rng.random() < 0.7 else rng.randrange(256)
    return bytes(b)


def m_truncate(rng: random.Random, data: bytes, fmt: str) -> bytes:
    return data[: rng.randint(0, len(data))]


def m_delete(rng: random.Random, data: bytes, fmt: str) -> bytes:
    i, j = _span(rng, data)
    return data[:i] + data[j:]


def m_duplicate(rng: random.Random, data: bytes, fmt: str) -> bytes:
    i, j = _span(rng, data)
    k = rng.randint(0, len(data))
    return data[:k] + data[i:j] * rng.randint(1, 3) + data[k:]


def _insert(rng: random.Random, data: bytes, piece: bytes) -> bytes:
    k = rng.randint(0, len(data))
    return data[:k] + piece + data[k:]


def m_unicode(rng: random.Random, data: bytes, fmt: str) -> bytes:
    return _insert(rng, data, rng.choice(UNICODE_SAMPLES).encode("utf-8", "surrogatepass"))


def m_invalid_utf8(rng: random.Random, data: bytes, fmt: str) -> bytes:
    return _insert(rng, data, rng.choice(INVALID_BYTES))


def m_bom(rng: random.Random, data: bytes, fmt: str) -> bytes:
    bom = b"\xef\xbb\xbf"
    return bom + data if rng.random() < 0.6 else _insert(rng, data, bom * rng.randint(1, 2))


def m_newlines(rng: random.Random, data: bytes, fmt: str) -> bytes:
    choice = rng.randrange(3)
    if choice == 0:
        return data.replace(b"\n", b"\r\n")
    if choice == 1:
        return data.replace(b"\n", b"\r")
    return _insert(rng, data, rng.choice([b"\r", b"\r\n", b"\n\n\n", b"\x0b", b"\xe2\x80\xa8"]))


def m_nul(rng: random.Random, data: bytes, fmt: str) -> bytes:
    return _insert(rng, data, b"\x00" * rng.randint(1, 3))


def m_token(rng: random.Random, data: bytes, fmt: str) -> bytes:
    return _insert(rng, data, rng.choice(TOKENS).encode())


def m_swap_lines(rng: random.Random, data: bytes, fmt: str) -> bytes:
    lines = data.split(b"\n")
    if len(lines) > 1:
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def m_nesting(rng: random.Random, data: bytes, fmt: str) -> bytes:
    opener, closer = NEST_OPENERS[fmt]
    n = rng.choice([2, 10, 50, 120, 500, 1200])
    if fmt == "yaml":
        piece = "".join("  " * i + "- a:\n" for i in range(n)) + "  " * n + "- x\n"
    elif fmt == "markdown":
        piece = "".join("  " * i + "- item\n" for i in range(n)) if rng.random() < 0.5 else "#" * n + " H\n"
    elif fmt == "lgpt" and rng.random() < 0.3:
        piece = "{if x}" * n + "a" + "{end}" * n
    else:
        piece = opener * n + ("- a\n" if fmt == "lgpt" else "1") + closer * rng.choice([n, n // 2, 0])
    return _insert(rng, data, piece.encode())


def m_long_line(rng: random.Random, data: bytes, fmt: str) -> bytes:
    unit = rng.choice([b"a", b"ab ", b"\xe4\xb8\xad", b"{x}", b"- ", b"\\", b"<Rules>", b'"'])
    return _insert(rng, data, unit * rng.choice([1000, 20000, 100000]))


MUTATORS: list[Callable[[random.Random, bytes, str], bytes]] = [
    m_flip,
    m_flip,
    m_truncate,
    m_delete,
    m_duplicate,
    m_unicode,
    m_invalid_utf8,
    m_bom,
    m_newlines,
    m_nul,
    m_token,
    m_token,
    m_swap_lines,
    m_nesting,
    m_long_line,
]
CHEAP_MUTATORS = [m for m in MUTATORS if m not in (m_nesting, m_long_line)]


def mutate(rng: random.Random, data: bytes, fmt: str) -> bytes:
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        # the expensive ones (huge inputs) are rarer so that many cases fit in a run
        mutator = rng.choice(MUTATORS) if rng.random() < 0.15 else rng.choice(CHEAP_MUTATORS)
        data = mutator(rng, data, fmt)
    return data


def mutation_cases(seed: int, count: int, start: int = 0) -> Iterator[tuple[int, str, str, str]]:
    """``count`` cases (case number, seed path, format, text), each reproducible from (seed, number)."""
    seeds = seed_files()
    raw = {p: (ROOT / p).read_bytes() for p, _ in seeds}
    for n in range(start, start + count):
        rng = random.Random(f"{seed}:{n}")
        path, fmt = seeds[n % len(seeds)]
        yield n, path, fmt, mutate(rng, raw[path], fmt).decode("utf-8", errors="replace")


# ------------------------------------------------------------------------------------ the invariant


class Hang(BaseException):
    """Raised by the alarm when a call runs past CASE_TIMEOUT (a BaseException so code under test
    that catches Exception cannot swallow it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise Hang(f"no result after {CASE_TIMEOUT}s")


@contextmanager
def time_limit(seconds: int = CASE_TIMEOUT) -> Iterator[None]:
    if not hasattr(signal, "SIGALRM"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# Signatures of the bugs in KNOWN_BUGS below (function, exception type, message pattern). The broad
# fuzz tests tolerate them so that they test everything else; test_known_bugs runs strictly, and its
# strict xfails turn red once the lead fixes one, which is the moment to drop its line here too.
KNOWN_BUG_SIGNATURES: list[tuple[str, str, str]] = [
    # every bug the fuzzer found in this session is fixed; add (function, exception, message regex)
    # here only while a newly found bug waits for its fix, with a strict xfail in test_known_bugs
]
TOLERATE_KNOWN_BUGS = True


def is_known_bug(fn: str, exc: BaseException) -> bool:
    return any(fn == f and type(exc).__name__ == t and re.search(m, str(exc)) for f, t, m in KNOWN_BUG_SIGNATURES)


class Unexpected(Exception):
    def __init__(self, fn: str, exc: BaseException, tb: str) -> None:
        super().__init__(f"{fn} raised {type(exc).__name__}: {str(exc)[:300]}")
        self.fn, self.exc, self.tb = fn, exc, tb


def call(fn: Callable[..., Any], *args: Any, allowed: tuple[type[BaseException], ...] = ALLOWED, **kw: Any) -> Any:
    """``fn(*args, **kw)``; None when it raised an allowed error; Unexpected for anything else."""
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        with time_limit():
            return fn(*args, **kw)
    except allowed:
        return None
    except (Exception, Hang, RecursionError) as exc:
        if TOLERATE_KNOWN_BUGS and is_known_bug(name, exc):
            return None
        raise Unexpected(name, exc, traceback.format_exc(limit=-8)) from None


STATS: dict[str, int] = {"format_refusals": 0}


def _format(text: str, path: str) -> str | None:
    try:
        return format_source(text, path)
    except FormatError:  # a documented refusal, not a crash
        STATS["format_refusals"] += 1
        return None


def exercise_lgpt(text: str, path: str, variables: dict[str, Any] | None = None) -> None:
    """parse, check, entries, compile (every target x [default entry + every entry]), format_source."""
    call(_format, text, path)
    program = call(langgpt.parse, text, path)
    if program is None:
        return
    call(langgpt.check, program)
    names = call(langgpt.entries, program) or []
    declared = {v.name for m in program.modules for v in m.document.variables()}
    values = {k: v for k, v in (variables or {}).items() if k in declared}
    for entry in [None, *names]:
        for target in TEXT_TARGETS:
            if target == "ast" and entry is not None:
                continue  # ast ignores the entry
            call(langgpt.compile, program, target=target, variables=values, entry=entry)


def exercise_import(text: str, path: str, fmt: str) -> None:
    result = call(import_text, text, path, fmt)
    if result is not None:
        # what an importer writes is .lgpt; it goes through the same invariant
        exercise_lgpt(result.source, str(Path(path).with_suffix(".lgpt")))


def exercise(text: str, path: str, fmt: str, variables: dict[str, Any] | None = None) -> None:
    if fmt == "lgpt":
        exercise_lgpt(text, path, variables)
    else:
        exercise_import(text, path, fmt)


def save_failure(directory: Path, name: str, text: str, detail: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    target.write_bytes(text.encode("utf-8", "surrogatepass"))
    target.with_name(target.name + ".txt").write_text(detail, encoding="utf-8")
    return target


_FAILURE_DIR: Path | None = None


def assert_clean(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run ``fn(*args, **kw)``; fail, with the input saved to a file, if an unexpected exception escapes.
    The first positional argument is taken as the input text."""
    try:
        return fn(*args, **kw)
    except Unexpected as exc:
        text = args[0] if args and isinstance(args[0], str) else repr(args)
        directory = _FAILURE_DIR or Path(os.environ.get("TMPDIR", "/tmp")) / "lgpt-fuzz-failures"
        suffix = Path(str(args[1])).suffix if len(args) > 1 else ".txt"
        saved = save_failure(directory, f"failure-{abs(hash(text)) % 10**10}{suffix}", text, exc.tb)
        pytest.fail(f"{exc}\ninput ({len(text)} chars) saved to {saved}\nargs[1:]={args[1:]!r}\n{exc.tb}")


@pytest.fixture(autouse=True)
def _failure_dir(tmp_path: Path) -> Iterator[None]:
    global _FAILURE_DIR
    _FAILURE_DIR = tmp_path / "fuzz-failures"
    yield
    _FAILURE_DIR = None


# -------------------------------------------------------------------------------- (a) mutation tests

MUTATION_SEED = 20240601
MUTATION_CASES = int(os.environ.get("LGPT_FUZZ_CASES", "3000"))
SHARDS = 10


@pytest.mark.parametrize("shard", range(SHARDS))
def test_mutations(shard: int) -> None:
    per = MUTATION_CASES // SHARDS
    for _n, path, fmt, text in mutation_cases(MUTATION_SEED, per, start=shard * per):
        assert_clean(exercise, text, path, fmt, seed_vars(path))


@pytest.mark.parametrize("fmt", IMPORT_FORMATS)
def test_every_importer_on_every_seed(fmt: str) -> None:
    """Cross-feeding: each importer gets each seed file (and a mutation of it), whatever its format."""
    rng = random.Random(f"cross:{fmt}")
    for path, own in seed_files():
        data = (ROOT / path).read_bytes()
        for text in (data.decode("utf-8", "replace"), mutate(rng, data, own).decode("utf-8", "replace")):
            assert_clean(exercise_import, text, path, fmt)


@pytest.mark.parametrize("path", [p for p, f in seed_files() if f != "lgpt"])
def test_lgpt_pipeline_on_foreign_files(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8", errors="replace")
    assert_clean(exercise_lgpt, text, "fuzz.lgpt")


# Found by this fuzzer; each is the minimal input. The lead fixes langgpt, then drops the xfail.
KNOWN_BUGS = [
    pytest.param(
        "openprompt",
        '{"soft":' * 2000 + "1" + "}" * 2000,
        id="openprompt-deep-json-recursionerror",
    ),
    pytest.param(
        "promptsource",
        "[" * 500,
        id="promptsource-deep-flow-recursionerror",
    ),
    pytest.param(
        "json",
        '{"a":' * 100 + "1" + "}" * 100,
        id="structured-deep-object-lgpterror",
    ),
    pytest.param(
        "promptsource",
        "\x0b",
        id="promptsource-control-char-readererror",
    ),
    pytest.param(
        "lgpt",
        'lgpt 1\nimport "a\x00" as c\n',
        id="parse-import-path-nul-valueerror",
    ),
    pytest.param(
        "lgpt",
        'lgpt 1\nimport "' + "a" * 300 + '" as c\n',
        id="parse-import-path-too-long-oserror",
    ),
    pytest.param(
        "lgpt",
        'lgpt 1\nvar x: text\nexamples e from "a\x00.jsonl" {\n  format: "{x}"\n}\n',
        id="check-examples-path-nul-valueerror",
    ),
    pytest.param(
        "lgpt",
        'lgpt 1\nvar x: text\nexamples e from "' + "a" * 300 + '.jsonl" {\n  format: "{x}"\n}\n',
        id="check-examples-path-too-long-oserror",
    ),
]


@pytest.mark.parametrize(("fmt", "text"), KNOWN_BUGS)
def test_known_bugs(fmt: str, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "TOLERATE_KNOWN_BUGS", False)
    path = {"openprompt": "a.openprompt", "promptsource": "templates.yaml", "json": "a.json", "yaml": "a.yaml"}.get(
        fmt, "a.lgpt"
    )
    assert_clean(exercise, text, path, fmt)


# ----------------------------------------------------------------------------- (b) grammar-aware

NAMES = st.sampled_from(["x", "xs", "flag", "name", "lang", "item", "规则", "Rules", "role", "if", "for", "a_b", "n1"])
VARS = st.sampled_from(["x", "xs", "flag", "name", "lang", "missing"])
FREE = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\{}<>\n\r'), max_size=12)
TAG = st.one_of(
    VARS.map(lambda v: "{" + v + "}"),
    st.sampled_from(["<Rules>", "<Role>", "<Profile>", "<Output Format>", "<Nope>", "<规则>", "<div>"]),
    VARS.map(lambda v: "{if " + v + "}yes{else}no{end}"),
    VARS.map(lambda v: "{for i in " + v + "}[{i}]{end}"),
    st.sampled_from(["\\n", "\\t", '\\"', "\\{", "\\}", "\\\\", "\\<", "\\d", "{#c#}", "{", "}", "{end}", "{x.y}"]),
)
STRING_BODY = st.lists(st.one_of(FREE, TAG), max_size=5).map("".join)
STRING = st.one_of(
    STRING_BODY.map(lambda s: f'"{s}"'),
    STRING_BODY.map(lambda s: f'"""\n    {s}\n  """'),
    FREE.map(lambda s: f'r"{s}"'),
)
PLAIN_ITEM = st.one_of(
    st.tuples(STRING_BODY).map(lambda t: f"- {t[0]}"),
    st.tuples(NAMES, STRING_BODY).map(lambda t: f"{t[0]}: {t[1]}"),
    st.tuples(NAMES, STRING).map(lambda t: f"{t[0]}: {t[1]}"),
    st.tuples(st.integers(0, 12), STRING_BODY).map(lambda t: f"{t[0]}. {t[1]}"),
    STRING,
)


def _block(children: st.SearchStrategy[list[str]]) -> st.SearchStrategy[str]:
    body = children.map(lambda items: "\n".join(items))
    return st.one_of(
        st.tuples(VARS, body).map(lambda t: f"if {t[0]} {{\n{t[1]}\n}}"),
        st.tuples(VARS, body, body).map(lambda t: f"if {t[0]} {{\n{t[1]}\n}} else {{\n{t[2]}\n}}"),
        st.tuples(NAMES, VARS, body).map(lambda t: f"for {t[0]} in {t[1]} {{\n{t[2]}\n}}"),
        st.tuples(STRING_BODY, body).map(lambda t: f"- {t[0]}\n{t[1]}"),
    )


ITEMS = st.recursive(PLAIN_ITEM, lambda inner: _block(st.lists(inner, max_size=4)), max_leaves=25)
SECTION_NAMES = st.sampled_from(["profile", "rules", "skills", "workflow", "constraints", "custom", "rules", "规则"])
SECTION = st.one_of(
    st.tuples(SECTION_NAMES, st.one_of(st.just(""), STRING), st.lists(ITEMS, max_size=5)).map(
        lambda t: f"  {t[0]} {t[1]} {{\n" + "\n".join(t[2]) + "\n  }"
    ),
    st.tuples(st.sampled_from(["output_format", "initialization", "background"]), STRING).map(
        lambda t: f"  {t[0]} {t[1]}"
    ),
)
TYPES = st.sampled_from(
    ["text", "bool", "int", "list[text]", "label {a, b}", "list[int]", "nope", 'text = "d"', "bool = true"]
)
VAR_DECL = st.tuples(VARS, TYPES, st.one_of(st.just(""), STRING)).map(lambda t: f"var {t[0]}: {t[1]} {t[2]}")
ROLE = st.tuples(
    st.sampled_from(["R", "Helper", "角色", "R"]),
    st.one_of(st.just(""), STRING),
    st.one_of(st.just(""), st.just("extends R "), st.just("extends Nope ")),
    st.lists(SECTION, max_size=5),
).map(lambda t: f"role {t[0]} {t[1]} {t[2]}{{\n" + "\n".join(t[3]) + "\n}")
EXAMPLES = st.tuples(NAMES, st.lists(st.tuples(VARS, STRING), max_size=3)).map(
    lambda t: f'examples {t[0]} {{\n  format: "{{x}}"\n  {{ ' + ", ".join(f"{k}: {v}" for k, v in t[1]) + " }\n}"
)
TEMPLATE = st.tuples(
    st.sampled_from(["t", "main"]),
    st.lists(
        st.one_of(
            st.just("system: role R"),
            STRING.map(lambda s: f"user: {s}"),
            STRING.map(lambda s: f"assistant: {s}"),
            STRING.map(lambda s: f"text: {s}"),
            NAMES.map(lambda n: f"shots: {n}"),
            VARS.map(lambda v: f"answer: {v}"),
        ),
        max_size=5,
    ),
).map(lambda t: f"template {t[0]} {{\n  " + "\n  ".join(t[1]) + "\n}")
PROGRAM = st.tuples(
    st.sampled_from(["lgpt 1\n", "lgpt 1\n", "", "lgpt 2\n", "\ufefflgpt 1\r\n"]),
    st.lists(st.one_of(VAR_DECL, ROLE, EXAMPLES, TEMPLATE, st.just("# comment")), max_size=8),
).map(lambda t: t[0] + "\n".join(t[1]) + "\n")
VALUES = st.fixed_dictionaries(
    {},
    optional={
        "x": st.one_of(st.text(max_size=5), st.booleans()),
        "xs": st.lists(st.text(max_size=3), max_size=3),
        "flag": st.booleans(),
        "name": st.text(max_size=5),
        "lang": st.text(max_size=5),
    },
)

FUZZ_SETTINGS = settings(
    max_examples=int(os.environ.get("LGPT_FUZZ_EXAMPLES", "250")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    database=None,
)


@FUZZ_SETTINGS
@given(source=PROGRAM, values=VALUES)
def test_generated_programs(source: str, values: dict[str, Any]) -> None:
    assert_clean(exercise_lgpt, source, "generated.lgpt", values)


@FUZZ_SETTINGS
@given(source=PROGRAM, cut=st.integers(0, 10_000), junk=st.sampled_from(["", "{", "}", '"', "\x00", "\ufeff", "\r"]))
def test_generated_programs_damaged(source: str, cut: int, junk: str) -> None:
    cut %= len(source) + 1
    assert_clean(exercise_lgpt, source[:cut] + junk + source[cut:], "generated.lgpt")


@settings(FUZZ_SETTINGS, max_examples=max(20, FUZZ_SETTINGS.max_examples // 3))
@given(text=st.text(max_size=200), fmt=st.sampled_from(IMPORT_FORMATS))
def test_importers_on_arbitrary_text(text: str, fmt: str) -> None:
    path = {"json": "a.json", "yaml": "a.yaml", "openprompt": "a.openprompt", "promptsource": "templates.yaml"}
    assert_clean(exercise_import, text, path.get(fmt, "a.md"), fmt)


# --------------------------------------------------------------------------------------- (c) the CLI

LGPT = Path(sys.executable).with_name("lgpt")


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(LGPT)] if LGPT.exists() else [sys.executable, "-m", "langgpt.cli"]
    return subprocess.run(
        cmd + args, cwd=cwd, capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"}
    )


def test_cli_on_mutated_files(tmp_path: Path) -> None:
    """Mutated bytes written to disk as-is (invalid UTF-8 included), then fed to the real ``lgpt``."""
    rng = random.Random(7)
    lgpt_seeds = [p for p, f in seed_files() if f == "lgpt" and "errors" not in p]
    import_seeds = [(p, f) for p, f in seed_files() if f != "lgpt"]
    work = tmp_path / "w"
    work.mkdir()
    runs: list[list[str]] = []
    for i in range(4):
        path = rng.choice(lgpt_seeds)
        data = mutate(rng, (ROOT / path).read_bytes(), "lgpt")
        if i == 0:
            data = b"\xff\xfe" + data + b"\xc3"
        target = work / f"m{i}.lgpt"
        target.write_bytes(data)
        runs += [
            ["check", target.name],
            ["compile", target.name, "--target", rng.choice(TEXT_TARGETS)],
            ["fmt", "--check", target.name],
        ]
    for i in range(2):
        path, fmt = rng.choice(import_seeds)
        target = work / f"i{i}{Path(path).suffix}"
        target.write_bytes(mutate(rng, (ROOT / path).read_bytes(), fmt))
        runs.append(["import", target.name])
    for args in runs:
        proc = _cli(args, work)
        detail = f"lgpt {' '.join(args)} -> {proc.returncode}\n{proc.stderr[-2000:]}"
        if proc.returncode not in (0, 1, 2) or "Traceback" in proc.stderr:
            saved = work / args[-1]
            pytest.fail(f"{detail}\ninput kept at {saved}")
