"""Evaluation metrics for ``lgpt run`` and ``lgpt eval``.

Pure Python on purpose: the classification and NER numbers need nothing heavy, so ``lgpt eval`` can
score saved predictions without the training stack. Only :func:`generation_metrics` needs a third-party
package (sacrebleu), and it imports it when called.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "classification_metrics",
    "entity_metrics",
    "entity_spans",
    "generation_metrics",
    "perplexity",
    "summary_rows",
]

# Headline numbers per task, in the order they are displayed.
_SUMMARY_KEYS: dict[str, tuple[str, ...]] = {
    "classify": ("accuracy", "macro_f1"),
    "ner": ("f1", "precision", "recall"),
    "generate": ("bleu", "chrf", "perplexity"),
}


def _ratio(numerator: int, denominator: int) -> float:
    # Zero denominators score 0, like sklearn's zero_division=0: an empty class or corpus earns nothing.
    return numerator / denominator if denominator else 0.0


def _prf(true_positives: int, predicted: int, gold: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts."""
    precision = _ratio(true_positives, predicted)
    recall = _ratio(true_positives, gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _score(true_positives: int, predicted: int, gold: int) -> dict[str, Any]:
    precision, recall, f1 = _prf(true_positives, predicted, gold)
    return {"precision": precision, "recall": recall, "f1": f1, "support": gold}


# ----------------------------------------------------------------------------- classification


def _check_label_ids(ids: Sequence[int], count: int, what: str) -> None:
    # An out-of-range id would silently vanish from the per-class counts and skew macro-F1.
    for position, label_id in enumerate(ids):
        if not 0 <= label_id < count:
            raise ValueError(f"{what}[{position}] = {label_id} is not a label index (0..{count - 1})")


def classification_metrics(gold: Sequence[int], predicted: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over every label (absent classes score 0) and a per-label report."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    if len(set(labels)) != len(labels):
        raise ValueError(f"duplicate label names: {list(labels)}")
    _check_label_ids(gold, len(labels), "gold")
    _check_label_ids(predicted, len(labels), "predicted")
    gold_counts = Counter(gold)
    predicted_counts = Counter(predicted)
    hits = Counter(g for g, p in zip(gold, predicted, strict=True) if g == p)
    report = {
        name: _score(hits[index], predicted_counts[index], gold_counts[index]) for index, name in enumerate(labels)
    }
    macro_f1 = sum(row["f1"] for row in report.values()) / len(labels) if labels else 0.0
    return {
        "accuracy": _ratio(sum(hits.values()), len(gold)),
        "macro_f1": macro_f1,
        "report": report,
        "examples": len(gold),
    }


# ----------------------------------------------------------------------------- named entities


def _split_tag(tag: str) -> tuple[str, str]:
    """``(prefix, type)`` of a BIO tag; prefix is "O", "B" or "I"."""
    if tag == "O":
        return "O", ""
    if tag in ("B", "I"):
        return tag, ""
    if tag[:2] in ("B-", "I-"):
        return tag[0], tag[2:]
    raise ValueError(f"not a BIO tag: {tag!r}")


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entities ``(type, start, end_exclusive)`` of a BIO/IOB2 sequence, read as conlleval does.

    Lenient like conlleval and seqeval's default: an ``I-X`` that does not continue an ``X`` entity
    starts one, so a model that never learned to emit ``B-`` still gets credit for its spans.
    """
    spans: list[tuple[str, int, int]] = []
    current: tuple[str, int] | None = None  # (type, start) of the open entity
    for position, tag in enumerate(tags):
        prefix, kind = _split_tag(tag)
        if prefix == "I" and current is not None and current[0] == kind:
            continue
        if current is not None:
            spans.append((current[0], current[1], position))
            current = None
        if prefix != "O":
            current = (kind, position)
    if current is not None:
        spans.append((current[0], current[1], len(tags)))
    return spans


def _sentence_spans(sentences: Sequence[Sequence[str]], what: str) -> set[tuple[int, str, int, int]]:
    # The sentence index keeps equal offsets in different sentences apart.
    spans: set[tuple[int, str, int, int]] = set()
    for index, tags in enumerate(sentences):
        try:
            spans.update((index, kind, start, end) for kind, start, end in entity_spans(tags))
        except ValueError as exc:
            raise ValueError(f"{what} sentence {index}: {exc}") from None
    return spans


def _check_sentence_lengths(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    for index, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted, strict=True)):
        if len(gold_tags) != len(predicted_tags):
            raise ValueError(f"sentence {index}: {len(gold_tags)} gold tags but {len(predicted_tags)} predicted")


def entity_metrics(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Entity-level micro P/R/F1 (exact span and type), per-type scores and token accuracy."""
    _check_sentence_lengths(gold, predicted)
    gold_spans = _sentence_spans(gold, "gold")
    predicted_spans = _sentence_spans(predicted, "predicted")
    correct = gold_spans & predicted_spans
    precision, recall, f1 = _prf(len(correct), len(predicted_spans), len(gold_spans))
    per_type = {
        kind: _score(
            sum(1 for span in correct if span[1] == kind),
            sum(1 for span in predicted_spans if span[1] == kind),
            sum(1 for span in gold_spans if span[1] == kind),
        )
        for kind in sorted({span[1] for span in gold_spans | predicted_spans})
    }
    tokens = sum(len(tags) for tags in gold)
    same = sum(
        g == p
        for gold_tags, predicted_tags in zip(gold, predicted, strict=True)
        for g, p in zip(gold_tags, predicted_tags, strict=True)
    )
    return {
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "per_type": per_type,
        "sentences": len(gold),
        "token_accuracy": _ratio(same, tokens),
    }


# ----------------------------------------------------------------------------- generation


def generation_metrics(predictions: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """Corpus BLEU and chrF (sacrebleu defaults, one reference per prediction)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    try:
        import sacrebleu
    except ImportError as exc:
        raise ImportError("generation metrics need sacrebleu: pip install sacrebleu") from exc
    if not predictions:
        # sacrebleu fails with IndexError on an empty corpus; nothing generated scores nothing.
        return {"bleu": 0.0, "chrf": 0.0, "examples": 0}
    hypotheses = list(predictions)
    reference_sets = [list(references)]  # sacrebleu wants one list per reference *set*
    return {
        "bleu": float(sacrebleu.corpus_bleu(hypotheses, reference_sets).score),
        "chrf": float(sacrebleu.corpus_chrf(hypotheses, reference_sets).score),
        "examples": len(predictions),
    }


def perplexity(total_nll: float, tokens: int) -> float:
    """``exp(total_nll / tokens)``; infinite with no tokens or when the exponent overflows."""
    if tokens < 0:
        raise ValueError(f"token count must not be negative, got {tokens}")
    if tokens == 0:
        return float("inf")
    try:
        return math.exp(total_nll / tokens)
    except OverflowError:
        # A diverged model: report inf rather than crash the end-of-run summary.
        return float("inf")


# ----------------------------------------------------------------------------- display


def summary_rows(task: str, metrics: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The headline ``(name, value)`` pairs of a task in display order; absent (or None) keys are skipped."""
    try:
        keys = _SUMMARY_KEYS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r} (expected one of {', '.join(_SUMMARY_KEYS)})") from None
    return [(key, float(metrics[key])) for key in keys if metrics.get(key) is not None]
