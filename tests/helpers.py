"""Helpers shared by the test modules (paths of the examples, their vars files, error expectations)."""

from __future__ import annotations

import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROMPTS = REPO_ROOT / "prompts"


def example_files() -> list[str]:
    """Every example .lgpt (relative to the repo root), except the deliberately broken ones."""
    return sorted(
        p.relative_to(REPO_ROOT).as_posix()
        for p in PROMPTS.rglob("*.lgpt")
        if "errors" not in p.relative_to(PROMPTS).parts
    )


def error_files() -> list[str]:
    return sorted(p.relative_to(REPO_ROOT).as_posix() for p in (PROMPTS / "errors").glob("*.lgpt"))


def vars_for(path: str) -> dict[str, object]:
    """Values from ``NAME.vars.json`` beside ``NAME.lgpt`` (empty when there is none)."""
    vars_path = REPO_ROOT / Path(path).with_suffix(".vars.json")
    if not vars_path.exists():
        return {}
    data = json.loads(vars_path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def vars_file_for(path: str) -> str | None:
    vars_path = Path(path).with_suffix(".vars.json")
    return vars_path.as_posix() if (REPO_ROOT / vars_path).exists() else None


def expectation(path: str) -> tuple[str, int, int]:
    """The ``# expect: CODE LINE:COL`` header of a prompts/errors file."""
    first = (REPO_ROOT / path).read_text(encoding="utf-8").splitlines()[0]
    prefix = "# expect: "
    assert first.startswith(prefix), f"{path} lacks an `# expect:` header"
    code, where = first[len(prefix) :].split()
    line, col = where.split(":")
    return code, int(line), int(col)


def tiny_cloze_source(**train: object) -> str:
    """A small sentiment program for the runtime's process tests: a cloze template, one label word per
    label (words the tiny test tokenizers know) and a `train` block with ``train`` on top of fixed
    settings (full fine-tuning, 4 epochs, lr 1e-3, seed 7)."""
    settings: dict[str, object] = {
        "model": "minilm",
        "method": "full",
        "task": "classify",
        "entry": "cloze",
        "epochs": 4,
        "lr": "1e-3",
        **train,
        "seed": 7,
        "metrics": "[accuracy, macro_f1]",
    }
    lines = "".join(f"  {key}: {value}\n" for key, value in settings.items())
    return f"""lgpt 1

var sentence: text
var label: label {{negative, positive}}

template cloze {{
  text: "{{sentence}} it was {{answer}}."
  answer: label
}}

verbalizer label_words for label {{
  negative: "bad"
  positive: "good"
}}

train {{
{lines}}}
"""
