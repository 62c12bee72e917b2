"""Training and evaluation examples for each task, from a data file and the .lgpt program.

classify and generate go through the ``dataset`` target: every row is rendered through the template
(``train { template: ... }`` or the first) and tokenized for the model, with the dataset target's rules
for bad rows (E405 with file:row:field, or ``--skip-bad`` and a rejects file). The compiled rows are
kept in the run directory (``data/<split>.jsonl``), so what the model saw can be inspected. ner reads
tagged sentences directly (``langgpt.runtime.ner``): the article's BERT tagger takes words, not a prompt.

Each example is a dict of plain lists: ``input_ids``, ``position`` (where the answer is read: the mask,
the last prompt token, or the first token for a plain head), ``label`` (class index), ``labels``
(per-token targets, -100 where ignored), ``word_ids`` (ner) and ``prompt_length`` (generate).
Sequences longer than ``max_length`` are shortened so that the answer's position survives.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langgpt.errors import UsageError
from langgpt.loader import Program
from langgpt.records import Record
from langgpt.runtime.settings import RunSettings

#: how classify reads its answer from a model of each kind
MODES = ("mlm", "embedding", "causal", "seq2seq", "plain")
KEEP_BEFORE_MASK = 16  # tokens kept just before the mask when a masked text is too long


class TaskData(Record):
    task: str
    split: str
    examples: tuple[dict[str, Any], ...]
    references: tuple[Any, ...]  # gold class index, tag list or target text, per example
    rows: tuple[int, ...]  # each example's row (line) in the source file
    texts: tuple[str, ...]  # what the model was given, for predictions files
    labels: tuple[str, ...]  # class names (classify) or tag names (ner); () for generate
    rejected: int = 0
    rejects: Path | None = None
    shortened: int = 0  # examples cut to max_length


def load_task_data(
    program: Program,
    settings: RunSettings,
    data: Path,
    *,
    split: str,
    tokenizer: Any,
    mode: str,
    work: Path,
    labels: tuple[str, ...] | None = None,
    skip_bad: bool = False,
    rejects: Path | None = None,
    limit: int | None = None,
    answers: bool = True,
) -> TaskData:
    """Examples of ``data`` for ``settings.task``. ``mode`` is the classify reading (see MODES) or,
    for generate, the model kind (causal | seq2seq). ``work`` is the folder for compiled rows.
    ``labels``: the tag set for ner evaluation data (the training set's). ``answers=False``:
    rows may lack the answer (prediction inputs)."""
    if settings.task == "ner":
        return _ner_data(settings, data, split, tokenizer, labels, skip_bad, rejects, limit, work, answers)
    records, rejected = _compiled_rows(
        program, settings, data, split, tokenizer, mode, work, skip_bad, rejects, limit, answers
    )
    if settings.task == "classify":
        names = class_names(program, settings)
        if settings.per_class and split == "train":
            records = sample_per_class(records, settings.per_class, settings.seed)
        return _classify(records, names, tokenizer, mode, settings.max_length, split, rejected, rejects)
    return _generate(records, tokenizer, mode, settings.max_length, split, rejected, rejects)


# ----------------------------------------------------------------------------- rendered rows


def _compiled_rows(
    program: Program,
    settings: RunSettings,
    data: Path,
    split: str,
    tokenizer: Any,
    mode: str,
    work: Path,
    skip_bad: bool,
    rejects: Path | None,
    limit: int | None,
    answers: bool,
) -> tuple[list[dict[str, Any]], int]:
    from langgpt.targets.dataset import compile_dataset

    # the plain head reads the prompt without an answer slot: render only, it tokenizes the prompt itself
    kind = None if mode == "plain" else {"mlm": "masked", "embedding": "masked"}.get(mode, mode)
    work.mkdir(parents=True, exist_ok=True)
    output = work / f"{split}.jsonl"
    if skip_bad and rejects is None:
        rejects = work / f"{split}.rejects.jsonl"
    result = compile_dataset(
        program,
        data=data,
        output=output,
        entry=settings.entry,
        tokenizer=tokenizer if kind is not None else None,
        kind=kind,
        skip_bad=skip_bad,
        rejects=rejects,
        max_rows=limit,
        answers=answers,
        progress=False,
    )
    with output.open(encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    return records, result.rejected


def class_names(program: Program, settings: RunSettings) -> tuple[str, ...]:
    from langgpt.rows import compile_template

    plan = compile_template(program, settings.entry)
    answer = plan.answer_type
    if answer is None or answer.name != "label":
        raise UsageError(
            f"task classify needs a template whose `answer:` is a label variable; `{plan.name}` has "
            + ("none" if answer is None else f"`{plan.answer_name}: {answer.name}`")
            + " (set `entry:` in the train block or pass --entry)"
        )
    return tuple(answer.labels)


def sample_per_class(records: list[dict[str, Any]], k: int, seed: int) -> list[dict[str, Any]]:
    """k records of each label, drawn with ``seed``, kept in file order (the few-shot setting)."""
    groups: dict[int, list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault(int(record["label"]), []).append(i)
    rng = random.Random(seed)
    chosen: list[int] = []
    for label in sorted(groups):
        members = groups[label]
        chosen.extend(rng.sample(members, min(k, len(members))))
    return [records[i] for i in sorted(chosen)]


# ----------------------------------------------------------------------------- classify


def _classify(
    records: list[dict[str, Any]],
    names: tuple[str, ...],
    tokenizer: Any,
    mode: str,
    max_length: int,
    split: str,
    rejected: int,
    rejects: Path | None,
) -> TaskData:
    examples: list[dict[str, Any]] = []
    shortened = 0
    plain_ids: list[list[int]] = []
    if mode == "plain":
        plain_ids = tokenizer([r["prompt"] for r in records])["input_ids"]
    causal_plain = mode == "plain" and getattr(tokenizer, "cls_token_id", None) is None
    for i, record in enumerate(records):
        ids: list[int] = plain_ids[i] if mode == "plain" else record["input_ids"]
        if mode in ("mlm", "embedding"):
            ids, position, cut = fit_masked(ids, record["mask_positions"][0], max_length)
        elif mode == "causal":
            ids, cut = fit_left(ids[: answer_start(record["labels"])], max_length)
            position = len(ids) - 1
        elif mode == "seq2seq":
            ids, cut = fit_left(ids, max_length)
            position = 0
        elif causal_plain:  # read at the last token: keep the end
            ids, cut = fit_left(ids, max_length)
            position = len(ids) - 1
        else:  # read at the first token: keep the start and the closing special token
            ids, cut = (ids[: max_length - 1] + ids[-1:], True) if len(ids) > max_length else (ids, False)
            position = 0
        shortened += cut
        example = {"input_ids": ids, "position": position}
        if record["label"] is not None:
            example["label"] = int(record["label"])
        examples.append(example)
    return TaskData(
        task="classify",
        split=split,
        examples=tuple(examples),
        references=tuple(None if r["label"] is None else int(r["label"]) for r in records),
        rows=tuple(int(r["row"]) for r in records),
        texts=tuple(r["prompt"] for r in records),
        labels=names,
        rejected=rejected,
        rejects=rejects if rejected else None,
        shortened=shortened,
    )


def answer_start(labels: Sequence[int]) -> int:
    """Where the answer begins in a causal example: the first position whose label is not -100."""
    for i, value in enumerate(labels):
        if value != -100:
            return i
    return len(labels)


def fit_masked(ids: list[int], mask: int, max_length: int) -> tuple[list[int], int, bool]:
    """Shorten a masked text to ``max_length`` keeping the mask and the first and last tokens
    (e.g. [CLS] and [SEP]): tokens go first from the text before the mask (its last
    KEEP_BEFORE_MASK tokens stay, they usually hold the template's cue), then from the text after it,
    then from what is left before it."""
    if len(ids) <= max_length:
        return ids, mask, False
    excess = len(ids) - max_length
    for region in ("before", "after", "rest"):
        if excess <= 0:
            break
        low, high = {
            "before": (1, mask - KEEP_BEFORE_MASK),
            "after": (mask + 1, len(ids) - 1),
            "rest": (1, mask),
        }[region]
        n = min(excess, max(0, high - low))
        if n:
            ids = ids[: high - n] + ids[high:]
            if high <= mask:
                mask -= n
            excess -= n
    return ids, mask, True


def fit_left(ids: list[int], max_length: int) -> tuple[list[int], bool]:
    """The last ``max_length`` tokens (the end of a prompt holds the cue for the answer)."""
    if len(ids) <= max_length:
        return ids, False
    return ids[-max_length:], True


# ----------------------------------------------------------------------------- generate


def _generate(
    records: list[dict[str, Any]],
    tokenizer: Any,
    mode: str,
    max_length: int,
    split: str,
    rejected: int,
    rejects: Path | None,
) -> TaskData:
    examples: list[dict[str, Any]] = []
    shortened = 0
    for record in records:
        if record["target"] is None and split == "train":
            raise UsageError("task generate needs a template with an `answer:` variable (the text to learn)")
        if mode == "seq2seq":
            ids, cut = fit_left(record["input_ids"], max_length)
            labels = record["labels"][:max_length]
            example = {"input_ids": ids, "labels": labels, "prompt_length": len(ids)}
        else:
            ids, labels = record["input_ids"], record["labels"]
            start = answer_start(labels)
            cut = len(ids) > max_length
            if cut:
                drop = min(len(ids) - max_length, start)  # shorten the prompt from the left first
                ids, labels = ids[drop:][:max_length], labels[drop:][:max_length]
                start -= drop
            example = {"input_ids": ids, "labels": labels, "prompt_length": start}
        shortened += cut
        examples.append(example)
    return TaskData(
        task="generate",
        split=split,
        examples=tuple(examples),
        references=tuple(r["target"] for r in records),
        rows=tuple(int(r["row"]) for r in records),
        texts=tuple(r["prompt"] for r in records),
        labels=(),
        rejected=rejected,
        rejects=rejects if rejected else None,
        shortened=shortened,
    )


# ----------------------------------------------------------------------------- ner


def _ner_data(
    settings: RunSettings,
    data: Path,
    split: str,
    tokenizer: Any,
    labels: tuple[str, ...] | None,
    skip_bad: bool,
    rejects: Path | None,
    limit: int | None,
    work: Path,
    answers: bool = True,
) -> TaskData:
    from langgpt.runtime.ner import align, label_list, read_tagged

    if skip_bad and rejects is None:
        work.mkdir(parents=True, exist_ok=True)
        rejects = work / f"{split}.rejects.jsonl"
    tagged = read_tagged(data, skip_bad=skip_bad, rejects=rejects, limit=limit, tags_optional=not answers)
    sentences = tagged.sentences
    if not sentences:
        raise UsageError(f"{data}: no tagged sentences")
    names = labels if labels is not None else label_list(sentences)
    ids = {name: i for i, name in enumerate(names)}
    aligned: list[dict[str, Any]] = list(align(tokenizer, sentences, ids, settings.max_length))
    for example, sentence in zip(aligned, sentences, strict=True):
        example["tokens"] = list(sentence.tokens)  # for predictions; collate ignores it
    shortened = sum(1 for s, a in zip(sentences, aligned, strict=True) if max(a["word_ids"]) + 1 < len(s.tokens))
    return TaskData(
        task="ner",
        split=split,
        examples=tuple(aligned),
        references=tuple(list(s.tags) if answers else None for s in sentences),
        rows=tuple(s.row for s in sentences),
        texts=tuple(" ".join(s.tokens) for s in sentences),
        labels=names,
        rejected=tagged.rejected,
        rejects=tagged.rejects,
        shortened=shortened,
    )
