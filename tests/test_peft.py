"""The soft-prompt / prefix / LoRA target: compiled adapters load with ``PeftModel.from_pretrained``,
start from exactly the declared init, keep training, and are deterministic and portable.

Models: a tiny GPT-2 (byte-level BPE) and a tiny BERT (WordPiece) built on the fly, and the pretrained
MiniLM (an encoder without an MLM head: prompt methods run as SEQ_CLS)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("peft")

import torch
from peft import PeftConfig, PeftModel

import langgpt
from langgpt.errors import DiagnosticError, UsageError
from langgpt.hf import load_model, load_tokenizer
from langgpt.training import (
    PeftResult,
    compile_peft,
    compile_verbalizer,
    load_adapter,
)

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


def source(method: str, init: str | None = "text(Analyst)", tokens: int = 6, extra: str = "") -> langgpt.Program:
    init_line = f"  init: {init}\n" if init else ""
    text = f"""lgpt 1
var label: label {{negative, positive}}
var sentence: text = "a review"

role Analyst {{
  rules {{
    - answer negative or positive
  }}
}}

template t "Review: {{sentence}} Sentiment: {{label}}"

verbalizer words for label {{
  negative: "terrible", "bad"
  positive: "great", "good"
}}

soft_prompt {{
  method: {method}
  tokens: {tokens}
{init_line}{extra}}}
"""
    return langgpt.parse(text, "soft.lgpt")


def is_causal(folder: str, gpt2_dir: str) -> bool:
    return folder == gpt2_dir


def fresh_base(folder: str, causal: bool) -> Any:
    torch.manual_seed(0)
    if causal:
        return load_model(folder, "causal").eval()
    return load_model(folder, "sequence_classification", num_labels=2).eval()


def batch(folder: str, causal: bool) -> dict[str, Any]:
    tok = load_tokenizer(folder)
    enc = dict(tok(["the film was great", "a terrible plot and bad dialogue"], padding=True, return_tensors="pt"))
    if causal:
        enc["labels"] = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    else:
        enc["labels"] = torch.tensor([1, 0])
    return enc


def text_init_ids(program: langgpt.Program, folder: str, n: int) -> list[int]:
    """PEFT's TEXT rule, computed here independently: the role's text target, tokenized with special
    tokens, repeated and cut to n."""
    text = langgpt.compile(program, target="text", entry="Analyst").output
    ids: list[int] = load_tokenizer(folder)(text)["input_ids"]
    return (ids * (n // len(ids) + 1))[:n]


def train_one_step(model: Any, inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """One AdamW step; returns the trainable parameters' change. Asserts a finite loss."""
    model.train()
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert params
    before = {n: p.detach().clone() for n, p in params.items()}
    optimizer = torch.optim.AdamW(params.values(), lr=1e-2)
    loss = model(**inputs).loss
    assert torch.isfinite(loss)
    loss.backward()
    grads = {n: p.grad for n, p in params.items() if p.grad is not None}
    optimizer.step()
    changed = {n: (params[n].detach() - before[n]).abs().max() for n in params}
    for name, grad in grads.items():
        changed[f"grad:{name}"] = grad.abs().max()
    return changed


def prompt_weight(model: Any) -> torch.Tensor:
    weight: torch.Tensor = model.prompt_encoder["default"].embedding.weight
    return weight


CASES = [
    ("gpt2_dir", "prompt_tuning"),
    ("gpt2_dir", "prefix_tuning"),
    ("gpt2_dir", "p_tuning"),
    ("gpt2_dir", "lora"),
    ("bert_dir", "prompt_tuning"),
    ("bert_dir", "p_tuning"),
    ("bert_dir", "lora"),
    ("minilm_dir", "prompt_tuning"),
    ("minilm_dir", "p_tuning"),
    ("minilm_dir", "lora"),
]


@pytest.mark.parametrize(("model", "method"), CASES)
def test_adapter_loads_with_the_init_and_trains(
    model: str, method: str, request: pytest.FixtureRequest, gpt2_dir: str, tmp_path: Path
) -> None:
    folder = request.getfixturevalue(model)
    causal = is_causal(folder, gpt2_dir)
    program = source(method, init=None if method == "lora" else "text(Analyst)")
    result = compile_peft(program, model=folder, output=tmp_path / "adapter")
    assert result.task_type == ("CAUSAL_LM" if causal else "SEQ_CLS")
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()

    base = fresh_base(folder, causal)
    embeddings = base.get_input_embeddings().weight.detach().clone()
    loaded = PeftModel.from_pretrained(base, str(result.output)).eval()
    if method == "lora":
        inputs = {k: v for k, v in batch(folder, causal).items() if k != "labels"}
        with torch.no_grad():  # B = 0: the adapter starts as the unchanged model
            reference = fresh_base(folder, causal)(**inputs).logits
            assert torch.allclose(loaded(**inputs).logits, reference, atol=1e-6)
        trainable = PeftModel.from_pretrained(fresh_base(folder, causal), str(result.output), is_trainable=True)
        changes = train_one_step(trainable, batch(folder, causal))
        assert any(v > 0 for k, v in changes.items() if "lora_B" in k and not k.startswith("grad:"))
        return

    ids = text_init_ids(program, folder, 6)
    assert list(result.init_ids) == ids
    if method == "prefix_tuning":
        # the prefix is the model's own keys and values for the init text: the adapted model on x acts
        # exactly as the base model on init text + x
        x = torch.tensor([[5, 60, 70, 80]])
        with torch.no_grad():
            adapted = loaded(input_ids=x).logits[0]
            reference = fresh_base(folder, causal)(input_ids=torch.tensor([ids + x[0].tolist()])).logits[0, -4:]
        assert torch.allclose(adapted, reference, atol=1e-5)
    else:
        assert torch.equal(prompt_weight(loaded), embeddings[torch.tensor(ids)])
    if method == "prompt_tuning":
        x = torch.tensor([[5, 60, 70, 80]])
        with torch.no_grad():
            adapted = loaded(input_ids=x).logits
            reference = fresh_base(folder, causal)(input_ids=torch.tensor([ids + x[0].tolist()])).logits
        # causal: the virtual tokens act as the init text itself; SEQ_CLS: the same, read at the first position
        assert torch.allclose(adapted, reference, atol=1e-5)

    trainable = load_adapter(fresh_base(folder, causal), result.output, trainable=True)
    assert torch.equal(prompt_weight(trainable).detach(), prompt_weight(loaded).detach())
    changes = train_one_step(trainable, batch(folder, causal))
    key = "prompt_encoder.default.embedding.weight"
    assert changes[f"grad:{key}"] > 0
    assert changes[key] > 0


def test_p_tuning_lstm(gpt2_dir: str, tmp_path: Path) -> None:
    result = compile_peft(source("p_tuning", extra="  encoder: lstm\n"), model=gpt2_dir, output=tmp_path / "a")
    config = json.loads((result.output / "adapter_config.json").read_text())
    assert config["encoder_reparameterization_type"] == "LSTM"
    trainable = load_adapter(fresh_base(gpt2_dir, True), result.output, trainable=True)
    changes = train_one_step(trainable, batch(gpt2_dir, True))
    assert changes["prompt_encoder.default.embedding.weight"] > 0


def test_inits(gpt2_dir: str, tmp_path: Path) -> None:
    tok = load_tokenizer(gpt2_dir)
    embeddings = fresh_base(gpt2_dir, True).get_input_embeddings().weight.detach()

    def compiled(init: str, out: str, tokens: int = 6) -> tuple[PeftResult, torch.Tensor]:
        result = compile_peft(source("prompt_tuning", init, tokens), model=gpt2_dir, output=tmp_path / out)
        loaded = PeftModel.from_pretrained(fresh_base(gpt2_dir, True), str(result.output))
        return result, prompt_weight(loaded).detach()

    # labels(verbalizer): the label words as label words (" terrible bad great good"), repeated
    result, weight = compiled("labels(words)", "labels")
    words = tok(" terrible bad great good", add_special_tokens=False)["input_ids"]
    verbalized = [
        i for label in compile_verbalizer(source("lora", None), model=gpt2_dir).used_ids() for w in label for i in w
    ]
    assert words == verbalized
    assert list(result.init_ids) == (words * 2)[:6]
    assert torch.equal(weight, embeddings[torch.tensor(result.init_ids)])
    assert not [w for w in result.warnings if w.code == "W402"]

    result, weight = compiled('words("great film")', "words")
    assert list(result.init_ids) == (tok(" great film", add_special_tokens=False)["input_ids"] * 6)[:6]
    assert result.init_text == "great film"

    result, weight = compiled("vocab(seed=3)", "vocab")
    again, _ = compiled("vocab(seed=3)", "vocab2")
    other, _ = compiled("vocab(seed=4)", "vocab3")
    assert result.init_ids == again.init_ids != other.init_ids
    assert len(set(result.init_ids)) == 6 and not set(result.init_ids) & set(tok.all_special_ids)
    assert torch.equal(weight, embeddings[torch.tensor(result.init_ids)])

    result, weight = compiled("random(seed=1)", "random")
    _, same = compiled("random(seed=1)", "random2")
    _, different = compiled("random(seed=2)", "random3")
    assert result.init_ids == () and result.init_text is None
    assert torch.equal(weight, same) and not torch.equal(weight, different)
    assert 0.5 < float(weight.std() / embeddings.std()) < 2


def test_w402_when_the_init_is_longer_than_the_virtual_tokens(gpt2_dir: str, tmp_path: Path) -> None:
    long = compile_peft(source("prompt_tuning", "text(Analyst)", 6), model=gpt2_dir, output=tmp_path / "a")
    w402 = [w for w in long.warnings if w.code == "W402"]
    assert len(w402) == 1 and long.token_count is not None and long.token_count > 6
    assert f"{long.token_count} tokens" in w402[0].message
    assert w402[0].span is not None and w402[0].span.file == "soft.lgpt"
    manifest = json.loads(long.manifest)
    assert manifest["init"]["cut"] is True and manifest["init"]["token_count"] == long.token_count
    roomy = compile_peft(source("prompt_tuning", "text(Analyst)", 200), model=gpt2_dir, output=tmp_path / "b")
    assert not [w for w in roomy.warnings if w.code == "W402"]
    assert roomy.token_count == long.token_count and len(roomy.init_ids) == 200


@pytest.mark.parametrize(
    ("model", "method"), [("minilm_dir", "prompt_tuning"), ("gpt2_dir", "prefix_tuning"), ("bert_dir", "lora")]
)
def test_deterministic_bytes(model: str, method: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    folder = request.getfixturevalue(model)
    init = None if method == "lora" else "text(Analyst)"
    first = compile_peft(source(method, init), model=folder, output=tmp_path / "one")
    second = compile_peft(source(method, init), model=folder, output=tmp_path / "two")
    assert first.files == second.files
    for name in first.files:
        assert (first.output / name).read_bytes() == (second.output / name).read_bytes(), name
    # compiling again into the same folder replaces it, leaving nothing beside it
    compile_peft(source(method, init), model=folder, output=tmp_path / "one")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]
    assert (tmp_path / "one" / "adapter_model.safetensors").read_bytes() == (
        tmp_path / "two" / "adapter_model.safetensors"
    ).read_bytes()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("model", ["gpt2_dir", "minilm_dir"])
def test_portable_config(model: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    folder = request.getfixturevalue(model)
    result = compile_peft(source("prompt_tuning"), model=folder, output=tmp_path / "out" / "adapter")
    config = json.loads((result.output / "adapter_config.json").read_text())
    manifest = json.loads(result.manifest)
    for text in _strings(config) + _strings(manifest):
        assert not os.path.isabs(text), text
        assert str(tmp_path) not in text and "site-packages" not in text, text
    assert not (result.output / "README.md").exists()
    if model == "minilm_dir":
        assert config["base_model_name_or_path"] == "minilm" == manifest["model"]
    else:  # a local folder: relative to the adapter folder
        assert (result.output / config["base_model_name_or_path"]).resolve() == Path(folder).resolve()
    assert PeftConfig.from_pretrained(str(result.output)).num_virtual_tokens == 6


def test_manifest(gpt2_dir: str, tmp_path: Path) -> None:
    path = tmp_path / "soft.lgpt"
    path.write_bytes(source("prompt_tuning").sources["soft.lgpt"].encode())
    result = compile_peft(langgpt.load(path), model=gpt2_dir, output=tmp_path / "adapter")
    manifest = json.loads((result.output / "manifest.json").read_text())
    assert manifest["source"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["entry"] == "Analyst"
    assert manifest["method"] == "prompt_tuning" and manifest["peft_type"] == "PROMPT_TUNING"
    assert manifest["tokens"] == 6
    init_text = (result.output / "init_text.txt").read_text(encoding="utf-8")
    assert init_text == langgpt.compile(langgpt.load(path), target="text", entry="Analyst").output
    assert manifest["init"]["kind"] == "text" and manifest["init"]["ids"] == list(result.init_ids)
    assert manifest["init"]["text_sha256"] == hashlib.sha256(init_text.encode()).hexdigest()
    assert manifest["tokenizer"]["algorithm"] == "BPE" and manifest["tokenizer"]["leading_space"] is True
    assert (
        manifest["weights_sha256"]
        == hashlib.sha256((result.output / "adapter_model.safetensors").read_bytes()).hexdigest()
    )
    assert result.files == ("adapter_config.json", "adapter_model.safetensors", "init_text.txt", "manifest.json")


def test_config_only(tmp_path: Path) -> None:
    program = source("prompt_tuning", tokens=20)
    result = compile_peft(program, output=tmp_path / "adapter", config_only=True)
    assert result.files == ("adapter_config.json", "init_text.txt", "manifest.json")
    config = json.loads((result.output / "adapter_config.json").read_text())
    assert config["prompt_tuning_init"] == "TEXT"
    assert config["prompt_tuning_init_text"] == langgpt.compile(program, target="text", entry="Analyst").output
    assert config["tokenizer_name_or_path"] == "minilm" and config["task_type"] == "SEQ_CLS"
    assert config["num_virtual_tokens"] == 20
    assert json.loads(result.manifest)["config_only"] is True and result.token_count is None
    lora = compile_peft(
        source("lora", None, extra="  r: 4\n  target_modules: [query, key]\n"), output=tmp_path / "l", config_only=True
    )
    config = json.loads((lora.output / "adapter_config.json").read_text())
    assert config["r"] == 4 and sorted(config["target_modules"]) == ["key", "query"]


def test_lora_defaults(gpt2_dir: str, minilm_dir: str, tmp_path: Path) -> None:
    gpt = json.loads(
        (
            compile_peft(source("lora", None), model=gpt2_dir, output=tmp_path / "g").output / "adapter_config.json"
        ).read_text()
    )
    assert sorted(gpt["target_modules"]) == ["c_attn", "c_proj"] and gpt["fan_in_fan_out"] is True
    mini = json.loads(
        (
            compile_peft(source("lora", None), model=minilm_dir, output=tmp_path / "m").output / "adapter_config.json"
        ).read_text()
    )
    assert sorted(mini["target_modules"]) == ["query", "value"] and mini["fan_in_fan_out"] is False
    assert mini["task_type"] == "SEQ_CLS" and mini["r"] == 8 and mini["lora_alpha"] == 16


def test_refusals(bert_dir: str, gpt2_dir: str, tmp_path: Path) -> None:
    with pytest.raises(DiagnosticError) as caught:  # BERT takes no past keys and values
        compile_peft(source("prefix_tuning"), model=bert_dir, output=tmp_path / "prefix")
    assert [d.code for d in caught.value.errors] == ["E401"]
    with pytest.raises(DiagnosticError) as caught:
        compile_peft(source("lora", "text(Analyst)"), model=gpt2_dir, output=tmp_path / "lora")
    assert [d.code for d in caught.value.errors] == ["E401"]
    assert "LoRA" in caught.value.errors[0].message
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="other files"):
        compile_peft(source("prompt_tuning"), model=gpt2_dir, output=other)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other"]  # no staging folders left behind


def test_sentiment_example(minilm_dir: str, gpt2_dir: str, tmp_path: Path) -> None:
    """Done criterion: prompts/sentiment.lgpt compiles to a verbalizer and a prompt-tuning adapter for
    MiniLM and for a tiny GPT-2, both loadable and trainable."""
    program = langgpt.load(Path("prompts/sentiment.lgpt"))
    for folder, causal in ((minilm_dir, False), (gpt2_dir, True)):
        verbalizer = compile_verbalizer(program, model=folder)
        assert verbalizer.label_names() == ("negative", "positive")
        result = compile_peft(program, model=folder, output=tmp_path / Path(folder).name)
        assert result.method == "prompt_tuning" and result.tokens == 20
        # W402 exactly when the init words take more tokens than the 20 virtual ones
        assert any(w.code == "W402" for w in result.warnings) == (result.token_count > 20)
        base = fresh_base(folder, causal)
        embeddings = base.get_input_embeddings().weight.detach().clone()
        loaded = PeftModel.from_pretrained(base, str(result.output))
        assert torch.equal(prompt_weight(loaded), embeddings[torch.tensor(result.init_ids)])
        changes = train_one_step(
            load_adapter(fresh_base(folder, causal), result.output, trainable=True), batch(folder, causal)
        )
        assert changes["prompt_encoder.default.embedding.weight"] > 0


def test_training_front_door_is_light() -> None:
    code = "import sys, langgpt.training; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'peft')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd())
    assert out.stdout.strip() == "[]"
