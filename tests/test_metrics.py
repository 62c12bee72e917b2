"""Evaluation metrics (langgpt.runtime.metrics) and the loss plot (langgpt.runtime.plots).

Expected numbers are computed by hand in the comments, not by calling another implementation.
"""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT

from langgpt.runtime.metrics import (
    classification_metrics,
    entity_metrics,
    entity_spans,
    generation_metrics,
    perplexity,
    summary_rows,
)

# ----------------------------------------------------------------------------- classification

LABELS = ["neg", "neu", "pos", "other"]
#                 0  1  2  3  4  5
GOLD = [0, 0, 1, 2, 2, 2]
PREDICTED = [0, 2, 2, 2, 2, 0]
# neg:   gold {0,1}, predicted {0,5}, hit {0}    -> P 1/2, R 1/2, F1 1/2
# neu:   gold {2}, never predicted               -> 0, 0, 0 (support 1)
# pos:   gold {3,4,5}, predicted {1,2,3,4}, hits {3,4} -> P 2/4, R 2/3, F1 4/7
# other: no gold, no predictions                 -> 0, 0, 0 (support 0), still in the macro average
# accuracy 3/6; macro-F1 (1/2 + 0 + 4/7 + 0) / 4 = 15/56
EXPECTED_REPORT = {
    "neg": (0.5, 0.5, 0.5, 2),
    "neu": (0.0, 0.0, 0.0, 1),
    "pos": (0.5, 2 / 3, 4 / 7, 3),
    "other": (0.0, 0.0, 0.0, 0),
}


def test_classification_headline_numbers() -> None:
    result = classification_metrics(GOLD, PREDICTED, LABELS)
    assert result["accuracy"] == pytest.approx(0.5)
    assert result["macro_f1"] == pytest.approx(15 / 56)
    assert result["examples"] == 6


@pytest.mark.parametrize(("label", "expected"), EXPECTED_REPORT.items())
def test_classification_per_class(label: str, expected: tuple[float, float, float, int]) -> None:
    row = classification_metrics(GOLD, PREDICTED, LABELS)["report"][label]
    precision, recall, f1, support = expected
    assert row["precision"] == pytest.approx(precision)
    assert row["recall"] == pytest.approx(recall)
    assert row["f1"] == pytest.approx(f1)
    assert row["support"] == support
    assert isinstance(row["support"], int)


def test_classification_report_keeps_label_order() -> None:
    assert list(classification_metrics(GOLD, PREDICTED, LABELS)["report"]) == LABELS


def test_classification_perfect_and_empty() -> None:
    perfect = classification_metrics([0, 1, 1], [0, 1, 1], ["a", "b"])
    assert (perfect["accuracy"], perfect["macro_f1"]) == (1.0, 1.0)
    empty = classification_metrics([], [], ["a", "b"])
    assert (empty["accuracy"], empty["macro_f1"], empty["examples"]) == (0.0, 0.0, 0)


@pytest.mark.parametrize(
    ("gold", "predicted", "labels", "message"),
    [
        ([0, 1], [0], ["a", "b"], "2 gold labels but 1 predictions"),
        ([0, 2], [0, 1], ["a", "b"], "gold\\[1\\] = 2"),
        ([0, 1], [0, -1], ["a", "b"], "predicted\\[1\\] = -1"),
        ([0], [0], ["a", "a"], "duplicate label"),
    ],
)
def test_classification_rejects_bad_input(
    gold: list[int], predicted: list[int], labels: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        classification_metrics(gold, predicted, labels)


# ----------------------------------------------------------------------------- entity spans


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        pytest.param([], [], id="empty"),
        pytest.param(["O", "O"], [], id="all-O"),
        pytest.param(["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 2), ("LOC", 3, 4)], id="B-I-O"),
        pytest.param(["O", "I-PER", "I-PER", "O"], [("PER", 1, 3)], id="I-after-O-starts"),
        pytest.param(["I-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 3)], id="I-at-start"),
        pytest.param(["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 3)], id="type-change"),
        pytest.param(["B-PER", "B-PER"], [("PER", 0, 1), ("PER", 1, 2)], id="adjacent-B-B"),
        pytest.param(["B-PER", "I-PER", "B-PER", "I-PER"], [("PER", 0, 2), ("PER", 2, 4)], id="B-ends-entity"),
        pytest.param(["B", "I", "O", "I", "B"], [("", 0, 2), ("", 3, 4), ("", 4, 5)], id="untyped"),
        pytest.param(["O", "O", "B-ORG", "I-ORG"], [("ORG", 2, 4)], id="trailing"),
        pytest.param(["B-MISC-X", "I-MISC-X"], [("MISC-X", 0, 2)], id="dash-in-type"),
    ],
)
def test_entity_spans(tags: list[str], spans: list[tuple[str, int, int]]) -> None:
    assert entity_spans(tags) == spans


@pytest.mark.parametrize("tag", ["X", "", "o", "b-PER", "O-PER", "BPER", "E-PER", "S-PER"])
def test_entity_spans_rejects_non_bio_tags(tag: str) -> None:
    with pytest.raises(ValueError, match="not a BIO tag"):
        entity_spans(["O", tag])


# ----------------------------------------------------------------------------- entity metrics

NER_GOLD = [
    ["B-PER", "I-PER", "O", "B-LOC"],  # PER(0,2) LOC(3,4)
    ["B-ORG", "O", "B-PER"],  # ORG(0,1) PER(2,3)
]
NER_PREDICTED = [
    ["B-PER", "I-PER", "O", "O"],  # PER(0,2) correct, LOC missed
    ["B-ORG", "O", "B-LOC"],  # ORG(0,1) correct, LOC(2,3) wrong type
]
# 4 gold, 3 predicted, 2 correct: P 2/3, R 1/2, F1 4/7; tokens 3/4 + 2/3 equal -> 5/7


def test_entity_metrics_micro_scores() -> None:
    result = entity_metrics(NER_GOLD, NER_PREDICTED)
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(1 / 2)
    assert result["f1"] == pytest.approx(4 / 7)
    assert result["token_accuracy"] == pytest.approx(5 / 7)
    assert result["sentences"] == 2


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("LOC", (0.0, 0.0, 0.0, 1)),  # one gold, one predicted elsewhere
        ("ORG", (1.0, 1.0, 1.0, 1)),
        ("PER", (1.0, 0.5, 2 / 3, 2)),  # one of two found, nothing spurious
    ],
)
def test_entity_metrics_per_type(kind: str, expected: tuple[float, float, float, int]) -> None:
    row = entity_metrics(NER_GOLD, NER_PREDICTED)["per_type"][kind]
    precision, recall, f1, support = expected
    assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((precision, recall, f1))
    assert row["support"] == support


def test_entity_metrics_types_sorted_from_gold_and_predicted() -> None:
    result = entity_metrics([["B-PER", "O"]], [["B-PER", "B-DATE"]])
    assert list(result["per_type"]) == ["DATE", "PER"]
    assert result["per_type"]["DATE"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


@pytest.mark.parametrize(
    ("gold", "predicted"),
    [
        pytest.param([["B-PER"], ["O"]], [["O"], ["B-PER"]], id="same-offsets-other-sentence"),
        pytest.param([["B-PER", "I-PER"]], [["B-PER", "O"]], id="partial-span"),
        pytest.param([["B-PER", "I-PER"]], [["B-LOC", "I-LOC"]], id="wrong-type"),
    ],
)
def test_entity_metrics_needs_exact_match(gold: list[list[str]], predicted: list[list[str]]) -> None:
    result = entity_metrics(gold, predicted)
    assert (result["precision"], result["recall"], result["f1"]) == (0.0, 0.0, 0.0)


def test_entity_metrics_perfect_and_empty() -> None:
    perfect = entity_metrics(NER_GOLD, NER_GOLD)
    assert (perfect["f1"], perfect["precision"], perfect["recall"], perfect["token_accuracy"]) == (1.0, 1.0, 1.0, 1.0)
    empty = entity_metrics([], [])
    assert (empty["f1"], empty["token_accuracy"], empty["sentences"], empty["per_type"]) == (0.0, 0.0, 0, {})


@pytest.mark.parametrize(
    ("gold", "predicted", "message"),
    [
        ([["O"], ["O", "O"]], [["O"], ["O"]], "sentence 1: 2 gold tags but 1 predicted"),
        ([["O"]], [["O"], ["O"]], "1 gold sentences but 2 predicted"),
        ([["O"], ["B-PER", "Z"]], [["O"], ["O", "O"]], "gold sentence 1: not a BIO tag: 'Z'"),
        ([["O"]], [["PER"]], "predicted sentence 0: not a BIO tag"),
    ],
)
def test_entity_metrics_rejects_bad_input(gold: list[list[str]], predicted: list[list[str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        entity_metrics(gold, predicted)


# ----------------------------------------------------------------------------- generation

SENTENCES = ["the cat sat on the mat", "a quick brown fox jumps over the lazy dog"]


def test_generation_identical_scores_100() -> None:
    pytest.importorskip("sacrebleu")
    result = generation_metrics(SENTENCES, SENTENCES)
    assert result["bleu"] == pytest.approx(100.0)
    assert result["chrf"] == pytest.approx(100.0)
    assert result["examples"] == 2


def test_generation_unrelated_scores_low() -> None:
    pytest.importorskip("sacrebleu")
    result = generation_metrics(SENTENCES, ["quantum chromodynamics binds quarks", "zebras graze in silence"])
    assert result["bleu"] < 5
    assert result["chrf"] < 30
    assert isinstance(result["bleu"], float)


def test_generation_partial_overlap_in_between() -> None:
    pytest.importorskip("sacrebleu")
    result = generation_metrics(["the cat sat on a red mat today"], ["the cat sat on the mat"])
    assert 5 < result["bleu"] < 100
    assert 5 < result["chrf"] < 100


def test_generation_empty_and_mismatch() -> None:
    pytest.importorskip("sacrebleu")
    assert generation_metrics([], []) == {"bleu": 0.0, "chrf": 0.0, "examples": 0}
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        generation_metrics(SENTENCES, SENTENCES[:1])


def test_generation_without_sacrebleu_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # makes `import sacrebleu` raise ImportError
    with pytest.raises(ImportError, match="pip install sacrebleu"):
        generation_metrics(SENTENCES, SENTENCES)


# ----------------------------------------------------------------------------- perplexity


@pytest.mark.parametrize(
    ("total_nll", "tokens", "expected"),
    [
        (math.log(4) * 10, 10, 4.0),
        (0.0, 5, 1.0),
        (3.0, 0, math.inf),
        (1e6, 1, math.inf),  # math.exp overflows
    ],
)
def test_perplexity(total_nll: float, tokens: int, expected: float) -> None:
    assert perplexity(total_nll, tokens) == pytest.approx(expected)


def test_perplexity_rejects_negative_tokens() -> None:
    with pytest.raises(ValueError, match="negative"):
        perplexity(1.0, -1)


# ----------------------------------------------------------------------------- summary rows


@pytest.mark.parametrize(
    ("task", "metrics", "rows"),
    [
        ("classify", {"macro_f1": 0.5, "report": {}, "accuracy": 0.75}, [("accuracy", 0.75), ("macro_f1", 0.5)]),
        ("ner", {"recall": 0.3, "precision": 0.2, "f1": 0.1}, [("f1", 0.1), ("precision", 0.2), ("recall", 0.3)]),
        ("ner", {"recall": 0.3, "token_accuracy": 0.9}, [("recall", 0.3)]),
        ("generate", {"chrf": 40.0, "bleu": 20.0}, [("bleu", 20.0), ("chrf", 40.0)]),
        (
            "generate",
            {"perplexity": 7, "chrf": 40.0, "bleu": 20.0},
            [("bleu", 20.0), ("chrf", 40.0), ("perplexity", 7.0)],
        ),
        ("generate", {"perplexity": None, "bleu": 20.0}, [("bleu", 20.0)]),
        ("classify", {}, []),
    ],
)
def test_summary_rows(task: str, metrics: dict[str, Any], rows: list[tuple[str, float]]) -> None:
    result = summary_rows(task, metrics)
    assert result == rows
    assert all(isinstance(value, float) for _, value in result)


def test_summary_rows_unknown_task() -> None:
    with pytest.raises(ValueError, match="unknown task 'translate'"):
        summary_rows("translate", {"bleu": 1.0})


# ----------------------------------------------------------------------------- loss plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def training_log(steps: int, *, evals: bool = True) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = [
        {"step": step, "epoch": step / 10, "loss": 2.0 / step + 0.1 * (step % 3), "lr": 1e-4}
        for step in range(1, steps + 1)
    ]
    if evals:
        log += [{"step": step, "epoch": step / 10, "eval_loss": 1.5 / step**0.5} for step in range(10, steps + 1, 10)]
    return log


def plot(log: list[dict[str, Any]], path: Path, title: str = "loss") -> bytes:
    from langgpt.runtime.plots import plot_loss

    plot_loss(log, path, title)
    return path.read_bytes()


@pytest.mark.parametrize(
    "log",
    [
        pytest.param(training_log(50), id="smoothed-with-eval"),
        pytest.param(training_log(8, evals=False), id="few-points"),
        pytest.param([{"step": 5, "eval_loss": 1.0}, {"step": 10, "eval_loss": 0.8}], id="eval-only"),
        pytest.param([{"step": 1, "loss": float("nan")}, *training_log(30, evals=False)], id="nan-loss"),
        pytest.param([], id="empty"),
    ],
)
def test_plot_loss_writes_png(tmp_path: Path, log: list[dict[str, Any]]) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "run" / "plots" / "loss.png"  # parents do not exist yet
    assert plot(log, target).startswith(PNG_MAGIC)
    assert sorted(os.listdir(target.parent)) == ["loss.png"]  # no temp file left behind


def test_plot_loss_is_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    log = training_log(40)
    first = plot(log, tmp_path / "a.png")
    second = plot(log, tmp_path / "b.png")
    assert first == second
    assert plot(log, tmp_path / "a.png") == first  # overwriting an existing plot
    assert plot(training_log(41), tmp_path / "c.png") != first  # ...and it does depend on the data


def test_plot_loss_empty_differs_from_data(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    empty = plot([], tmp_path / "empty.png")
    # Records without "loss"/"eval_loss" draw nothing either: the same "no training steps" picture.
    assert plot([{"step": 1, "lr": 1e-4}], tmp_path / "lr-only.png") == empty
    assert plot(training_log(5, evals=False), tmp_path / "data.png") != empty


def test_plot_loss_is_readable_by_others(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "loss.png"
    plot(training_log(5), target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_plot_loss_failure_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "loss.png"
    old = plot(training_log(5), target)

    def failing_replace(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        plot(training_log(30), target)
    assert os.listdir(tmp_path) == ["loss.png"]
    assert target.read_bytes() == old


# ----------------------------------------------------------------------------- import weight

PROBE = """
import json, sys
import langgpt.runtime
before = set(sys.modules)
import langgpt.runtime.metrics, langgpt.runtime.plots
heavy = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in {"torch", "transformers", "sacrebleu", "matplotlib", "numpy"})
print(json.dumps(heavy))
"""


def test_modules_import_nothing_heavy() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
