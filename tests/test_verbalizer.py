"""The verbalizer target: label words -> token ids for a tokenizer (tiny GPT-2 BPE, tiny BERT WordPiece,
the pretrained MiniLM), multi-token words, the block's diagnostics and deterministic JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

import langgpt
from langgpt.errors import DiagnosticError, UsageError
from langgpt.training import compile_verbalizer


def tokenizer(folder: str) -> Any:
    from langgpt.hf import load_tokenizer

    return load_tokenizer(folder)


def source(body: str, labels: str = "negative, positive", extra: str = "") -> langgpt.Program:
    text = f"""lgpt 1
var label: label {{{labels}}}
template t "Review: {{label}}"
{extra}
verbalizer words for label {{
{body}
}}
"""
    return langgpt.parse(text, "verbalizer.lgpt")


WORDS = '  negative: "terrible", "bad"\n  positive: "great", "good"'


@pytest.mark.parametrize(("model", "space"), [("gpt2_dir", True), ("bert_dir", False), ("minilm_dir", False)])
def test_ids_follow_the_leading_space_rule(model: str, space: bool, request: pytest.FixtureRequest) -> None:
    folder = request.getfixturevalue(model)
    tok = tokenizer(folder)
    result = compile_verbalizer(source(WORDS), model=folder)
    assert result.leading_space is space
    assert result.label_names() == ("negative", "positive")
    for label in result.labels:
        for word in label.words:
            text = f" {word.word}" if space else word.word
            assert word.text == text
            assert list(word.token_ids) == tok(text, add_special_tokens=False)["input_ids"]
            assert list(word.pieces) == tok.convert_ids_to_tokens(list(word.token_ids))
    data = json.loads(result.output)
    assert [label["label"] for label in data["labels"]] == ["negative", "positive"]
    assert data["label_ids"] == {"negative": 0, "positive": 1}
    assert data["tokenizer"]["leading_space"] is space
    assert data["labels"][1]["words"][0]["token_ids"] == list(result.labels[1].words[0].token_ids)


def test_gpt2_word_ids_differ_from_the_bare_word(gpt2_dir: str) -> None:
    """The rule matters: on byte-level BPE, " great" and "great" are different tokens."""
    tok = tokenizer(gpt2_dir)
    result = compile_verbalizer(source(WORDS), model=gpt2_dir)
    great = result.labels[1].words[0]
    assert great.pieces == ("Ġgreat",)
    assert list(great.token_ids) != tok("great", add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize(
    ("handling", "used"),
    [("first", lambda ids: ids[:1]), ("mean", lambda ids: ids), ("all", lambda ids: ids)],
)
def test_multi_token_words_are_reported_and_handled(gpt2_dir: str, handling: str, used: Any) -> None:
    body = f'  negative: "terrible", "dreadful"\n  positive: "great"\n  multi_token: {handling}'
    result = compile_verbalizer(source(body), model=gpt2_dir)
    dreadful = result.labels[0].words[1]
    assert len(dreadful.token_ids) > 1
    assert dreadful.used_ids == used(dreadful.token_ids)
    assert result.labels[0].words[0].used_ids == result.labels[0].words[0].token_ids  # one token: all rules agree
    w401 = [w for w in result.warnings if w.code == "W401"]
    assert len(w401) == 1
    assert "dreadful" in w401[0].message and repr(dreadful.pieces[0]) in w401[0].message
    assert w401[0].span is not None and w401[0].span.line == 6  # the `negative:` setting
    word = json.loads(result.output)["labels"][0]["words"][1]
    assert word["multi_token"] is True and word["pieces"] == list(dreadful.pieces)
    assert json.loads(result.output)["multi_token"] == handling


def test_multi_token_on_minilm(minilm_dir: str) -> None:
    result = compile_verbalizer(source('  negative: "unwatchable"\n  positive: "great"'), model=minilm_dir)
    assert result.labels[0].words[0].pieces == ("un", "##watch", "##able")
    assert [w.code for w in result.warnings] == ["W401"]


@pytest.mark.parametrize(
    ("body", "labels", "code"),
    [
        pytest.param('  negative: "bad"\n  positive: ""', "negative, positive", "E402", id="label-without-words"),
        pytest.param('  negative: "bad", "awful"\n  positive: "awful"', "negative, positive", "E403", id="shared-word"),
        pytest.param('  negative: "bad"', "negative, positive", "E404", id="missing-label"),
        pytest.param(
            '  negative: "bad"\n  positive: "good"\n  neutral: "ok"', "negative, positive", "E404", id="extra"
        ),
        pytest.param(
            '  negative: "bad"\n  positive: "good"\n  multi_token: some', "negative, positive", "E401", id="bad-setting"
        ),
    ],
)
def test_block_problems_raise(body: str, labels: str, code: str, gpt2_dir: str) -> None:
    with pytest.raises(DiagnosticError) as caught:
        compile_verbalizer(source(body, labels), model=gpt2_dir)
    assert code in [d.code for d in caught.value.errors]


def test_words_with_the_same_tokens_clash(gpt2_dir: str) -> None:
    """Different words, same used token (`first` keeps " great" of " greatest"): E403."""
    with pytest.raises(DiagnosticError) as caught:
        compile_verbalizer(source('  negative: "great"\n  positive: "greatest"'), model=gpt2_dir)
    assert [d.code for d in caught.value.errors] == ["E403"]
    assert "greatest" in caught.value.errors[0].message
    # with `all`, the whole word is used: no clash
    compile_verbalizer(source('  negative: "great"\n  positive: "greatest"\n  multi_token: all'), model=gpt2_dir)


def test_labels_follow_the_variable_order(bert_dir: str) -> None:
    result = compile_verbalizer(source('  positive: "good"\n  negative: "bad"'), model=bert_dir)
    assert result.label_names() == ("negative", "positive")
    assert [label.id for label in result.labels] == [0, 1]


def test_output_is_deterministic(gpt2_dir: str, minilm_dir: str) -> None:
    for folder in (gpt2_dir, minilm_dir):
        first = compile_verbalizer(source(WORDS), model=folder).output
        second = compile_verbalizer(source(WORDS), model=folder).output
        assert first.encode() == second.encode()
        assert first.endswith("}\n")


def test_choosing_a_verbalizer(gpt2_dir: str) -> None:
    two = source(WORDS, extra='verbalizer other for label {\n  negative: "bad"\n  positive: "good"\n}')
    with pytest.raises(UsageError, match="2 verbalizer blocks"):
        compile_verbalizer(two, model=gpt2_dir)
    result = compile_verbalizer(two, name="other", model=gpt2_dir)
    assert result.name == "other"
    assert [len(label.words) for label in result.labels] == [1, 1]
    with pytest.raises(UsageError, match="no verbalizer block named `nope`"):
        compile_verbalizer(two, name="nope", model=gpt2_dir)


def test_sentiment_example(minilm_dir: str, gpt2_dir: str) -> None:
    """Done criterion (verbalizer half): prompts/sentiment.lgpt compiles for MiniLM and a tiny GPT-2."""
    program = langgpt.load(Path("prompts/sentiment.lgpt"))
    mini = compile_verbalizer(program)  # the default model is MiniLM
    assert mini.model == "minilm"
    tok = tokenizer(minilm_dir)
    assert mini.used_ids() == tuple(
        tuple(tuple(tok(w, add_special_tokens=False)["input_ids"]) for w in words)
        for words in (("terrible", "bad"), ("great", "good"))
    )
    gpt = compile_verbalizer(program, model=gpt2_dir)
    assert gpt.labels[1].words[0].pieces == ("Ġgreat",)
    assert not [w for w in (*mini.warnings, *gpt.warnings) if w.code == "W401"]
