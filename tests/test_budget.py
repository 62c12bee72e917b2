"""Token budgets: the result never exceeds the budget, what gives way is declared and reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import langgpt
from langgpt.budget import compile_within

pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[1]
SOURCE = """lgpt 1
var review: text "the review" truncate tail
var note: text = "" "an extra note" truncate head
examples low priority 0 {
  format: "Review: {text}\\nSentiment: {label}"
  { text: "great film", label: "positive" }
  { text: "bad plot", label: "negative" }
  { text: "good acting", label: "positive" }
}
examples high priority 5 {
  format: "Example: {text} -> {label}"
  { text: "terrible", label: "negative" }
  { text: "great", label: "positive" }
}
template classify \"\"\"
  {high}

  {low}

  {note}
  Review: {review}
  Sentiment: {answer}
\"\"\"
"""


@pytest.fixture(scope="module")
def tokenizer(gpt2_dir: str) -> Any:
    from langgpt.hf import load_tokenizer

    return load_tokenizer(gpt2_dir)


def count(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=True)["input_ids"])


def test_fits_without_changes_when_short(tokenizer: Any) -> None:
    program = langgpt.parse(SOURCE)
    full = langgpt.compile(program, variables={"review": "fine"}).output
    result = compile_within(program, 10_000, tokenizer, variables={"review": "fine"})
    assert result.output == full and result.dropped == ()
    assert result.tokens == count(tokenizer, full)


@pytest.mark.parametrize("budget", [400, 200, 120, 80, 60, 40])
def test_never_exceeds_the_budget(tokenizer: Any, budget: int) -> None:
    program = langgpt.parse(SOURCE)
    long = "the sound is great but the battery is bad " * 20
    result = compile_within(program, budget, tokenizer, variables={"review": long, "note": "note " * 30})
    assert result.tokens <= budget
    assert count(tokenizer, result.output) == result.tokens
    assert result.output.rstrip().endswith("Sentiment:")


def test_lowest_priority_shots_go_first_then_truncation(tokenizer: Any) -> None:
    program = langgpt.parse(SOURCE)
    long = "the sound is great but the battery is bad " * 20
    full = count(tokenizer, langgpt.compile(program, variables={"review": long}).output)
    result = compile_within(program, full - 5, tokenizer, variables={"review": long})
    assert result.dropped[0].startswith("dropped 1 of 3 shot(s) of `low`")
    assert "Example: terrible" in result.output and "great film" in result.output and "good acting" not in result.output
    tight = compile_within(program, 60, tokenizer, variables={"review": long})
    assert [d.split(" shot")[0] for d in tight.dropped[:2]] == ["dropped 3 of 3", "dropped 2 of 2"]
    assert "cut `review`" in tight.dropped[-1] and "at its tail" in tight.dropped[-1]
    kept = tight.output.split("Review: ")[1].split("\n")[0]
    assert long.startswith(kept.strip()), "truncate tail keeps the beginning"


def test_truncate_head_keeps_the_end(tokenizer: Any) -> None:
    program = langgpt.parse(SOURCE.replace("truncate tail", "truncate head", 1))
    long = " ".join(f"w{i}" for i in range(200))
    result = compile_within(program, 60, tokenizer, variables={"review": long})
    kept = result.output.split("Review: ")[1].split("\n")[0].strip()
    assert long.endswith(kept) and kept


def test_impossible_budget_is_a_diagnostic(tokenizer: Any) -> None:
    program = langgpt.parse(SOURCE)
    with pytest.raises(langgpt.DiagnosticError) as info:
        compile_within(program, 3, tokenizer, variables={"review": "x"})
    assert info.value.diagnostics[0].code == "E407"


def test_messages_are_counted_through_the_chat_template(tokenizer: Any) -> None:
    tokenizer.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    source = SOURCE.replace('template classify """', 'template classify {\n  user: """', 1).rstrip() + "\n}\n"
    program = langgpt.parse(source)
    result = compile_within(program, 70, tokenizer, target="messages", variables={"review": "okay " * 50})
    messages = json.loads(result.output)
    assert len(tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)["input_ids"]) <= 70
    tokenizer.chat_template = None


def test_cli_reports_what_gave_way(tokenizer: Any, tmp_path: Path) -> None:
    model = tmp_path / "tok"
    tokenizer.save_pretrained(model)
    source = tmp_path / "p.lgpt"
    source.write_text(SOURCE, encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "langgpt.cli",
        "compile",
        str(source),
        "--root",
        str(tmp_path),
        "--var",
        "review=" + "long text " * 40,
    ]
    run = subprocess.run([*cmd, "--max-tokens", "50", "--model", str(model)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "budget: dropped" in run.stderr and "of 50 tokens" in run.stderr
    assert count(tokenizer, run.stdout) <= 50
    bad = subprocess.run([*cmd, "--max-tokens", "2", "--model", str(model)], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and "E407" in bad.stderr and "Traceback" not in bad.stderr


def test_syntax_for_priority_and_truncate_round_trips_through_fmt() -> None:
    from langgpt.fmt import format_source

    formatted = format_source(SOURCE)
    assert "examples high priority 5 {" in formatted and 'var review: text "the review" truncate tail' in formatted
    with pytest.raises(langgpt.DiagnosticError):
        langgpt.parse("var n: text truncate middle\n")
    assert any(d.code == "E401" for d in langgpt.check(langgpt.parse("var n: int = 1 truncate tail\n")))
