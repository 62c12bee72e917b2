"""Prediction and metrics for each task, on examples built by ``langgpt.runtime.examples``.

classify: accuracy, macro-F1 and a per-class report; ner: entity-level precision/recall/F1 per type
(word-level tags from each word's first sub-token, repaired to valid BIO); generate: BLEU and chrF of
greedy decodings against the references, and perplexity of the references (teacher forcing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from langgpt.runtime.examples import TaskData
from langgpt.runtime.loop import collate, device
from langgpt.runtime.models import Built


class Evaluation:
    def __init__(self, metrics: dict[str, Any], predictions: list[dict[str, Any]]) -> None:
        self.metrics = metrics
        self.predictions = predictions


def _batches(examples: Sequence[dict[str, Any]], size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (less padding), in a fixed order."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i]["input_ids"]), i))
    return [order[i : i + size] for i in range(0, len(order), size)]


@torch.no_grad()
def evaluate(
    built: Built,
    data: TaskData,
    *,
    pad_id: int,
    tokenizer: Any,
    batch_size: int = 64,
    max_new_tokens: int = 60,
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    built.module.eval()
    built.module.to(device())
    if data.task == "classify":
        return _classify(built, data, pad_id, batch_size, progress)
    if data.task == "ner":
        return _ner(built, data, pad_id, batch_size, progress)
    return _generate(built, data, pad_id, tokenizer, batch_size, max_new_tokens, progress)


def _classify(
    built: Built, data: TaskData, pad_id: int, batch_size: int, progress: Callable[[int], None] | None
) -> Evaluation:
    from langgpt.runtime.metrics import classification_metrics

    n = len(data.examples)
    predicted = [0] * n
    confidence = [0.0] * n
    for indices in _batches(data.examples, batch_size):
        batch = collate([_unlabelled(data.examples[i]) for i in indices], pad_id, device())
        _, _, logits = built.module(batch)
        probabilities = logits.float().softmax(-1)
        best = probabilities.argmax(-1)
        for j, i in enumerate(indices):
            predicted[i] = int(best[j])
            confidence[i] = round(float(probabilities[j, best[j]]), 6)
        if progress:
            progress(len(indices))
    labelled = all(g is not None for g in data.references)
    gold = [int(g) for g in data.references] if labelled else []
    metrics = classification_metrics(gold, predicted, data.labels) if gold else {}
    predictions = [
        {
            "row": data.rows[i],
            "prediction": data.labels[predicted[i]],
            "confidence": confidence[i],
            "gold": data.labels[gold[i]] if gold else None,
        }
        for i in range(n)
    ]
    return Evaluation(metrics, predictions)


def _unlabelled(example: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in example.items() if k != "label"}


def _ner(
    built: Built, data: TaskData, pad_id: int, batch_size: int, progress: Callable[[int], None] | None
) -> Evaluation:
    from langgpt.runtime.metrics import entity_metrics
    from langgpt.runtime.ner import repair_bio, words_from_tokens

    n = len(data.examples)
    tags: list[list[str]] = [[] for _ in range(n)]
    for indices in _batches(data.examples, batch_size):
        batch = collate([data.examples[i] for i in indices], pad_id, device())
        _, _, logits = built.module(batch)
        best = logits.argmax(-1).tolist()
        for j, i in enumerate(indices):
            example = data.examples[i]
            words = len(example["tokens"])
            tags[i] = repair_bio(words_from_tokens(example["word_ids"], best[j], words, data.labels))
        if progress:
            progress(len(indices))
    labelled = all(r is not None for r in data.references)
    metrics = entity_metrics([list(r) for r in data.references], tags) if labelled else {}
    predictions = [
        {"row": data.rows[i], "tokens": data.examples[i]["tokens"], "prediction": tags[i], "gold": data.references[i]}
        for i in range(n)
    ]
    return Evaluation(metrics, predictions)


def _generate(
    built: Built,
    data: TaskData,
    pad_id: int,
    tokenizer: Any,
    batch_size: int,
    max_new_tokens: int,
    progress: Callable[[int], None] | None,
) -> Evaluation:
    from langgpt.runtime.metrics import generation_metrics, perplexity

    total_nll, tokens = 0.0, 0
    for indices in _batches(data.examples, batch_size):
        batch = collate([data.examples[i] for i in indices], pad_id, device())
        loss_sum, count, _ = built.module(batch)
        total_nll += float(loss_sum)
        tokens += int(count)
    texts = generate_texts(built, data.examples, tokenizer, pad_id, batch_size, max_new_tokens, progress)
    metrics: dict[str, Any] = {}
    if all(r is not None for r in data.references):
        metrics = generation_metrics(texts, [str(r) for r in data.references])
        metrics["perplexity"] = perplexity(total_nll, tokens)
        metrics["target_tokens"] = tokens
    predictions = [
        {"row": data.rows[i], "prediction": texts[i], "gold": data.references[i]} for i in range(len(data.examples))
    ]
    return Evaluation(metrics, predictions)


@torch.no_grad()
def generate_texts(
    built: Built,
    examples: Sequence[dict[str, Any]],
    tokenizer: Any,
    pad_id: int,
    batch_size: int,
    max_new_tokens: int,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Greedy decodings. Causal prompts are batched only with prompts of the same length, so no
    padding ever sits between a prompt and its continuation."""
    where = device()
    out: list[str] = [""] * len(examples)
    eos = tokenizer.eos_token_id
    seq2seq = built.kind == "seq2seq"
    room = _prompt_room(built, max_new_tokens)
    groups: dict[int, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault(0 if seq2seq else min(e["prompt_length"], room), []).append(i)
    for _, members in sorted(groups.items()):
        for start in range(0, len(members), batch_size):
            indices = members[start : start + batch_size]
            prompts = [{"input_ids": examples[i]["input_ids"][: examples[i]["prompt_length"]][-room:]} for i in indices]
            batch = collate(prompts, pad_id, where)
            generated = built.backbone.generate(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                pad_token_id=pad_id,
                eos_token_id=eos,
            )
            width = batch["input_ids"].shape[1]
            if not seq2seq and generated.shape[1] > width and torch.equal(generated[:, :width], batch["input_ids"]):
                generated = generated[:, width:]
            for j, i in enumerate(indices):
                out[i] = tokenizer.decode(generated[j], skip_special_tokens=True).strip()
            if progress:
                progress(len(indices))
    return out


def _prompt_room(built: Built, max_new_tokens: int) -> int:
    """How many prompt tokens fit beside ``max_new_tokens`` in the model's positions (the start of a
    longer prompt is cut: its end holds the cue)."""
    config = getattr(built.backbone, "config", None)
    limit = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
    if built.kind == "seq2seq" or not isinstance(limit, int):
        return 1 << 30
    return max(1, limit - max_new_tokens)
