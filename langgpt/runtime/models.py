"""Task models: a Hugging Face backbone, a training method applied to it, and a small task head.

How each task reads its answer:

- classify, ``head: verbalizer`` (prompt-based, PET / LM-BFF style):
  - a masked LM with its LM head (``mlm``): the label words' scores at the mask position;
  - an encoder without an LM head (``embedding``, e.g. the embedded MiniLM, a sentence encoder): the
    cosine between the mean-pooled text and one prototype per class, which starts as the encoder's
    embedding of the label words (zero-shot by meaning before any training);
  - a causal LM (``causal``): the label words' scores as the next token after the prompt;
  - a seq2seq LM (``seq2seq``): the label words' scores as the first decoder token;
- classify, ``head: plain`` (the baseline): a fresh linear head on the first token (encoders) or the
  last prompt token (causal LMs);
- ner: a linear tag head on every token of an encoder;
- generate: the LM itself, loss on the target tokens only.

Methods: ``full`` trains everything; ``bitfit`` only bias terms (and the task head); ``lora``,
``prompt_tuning``, ``prefix_tuning`` and ``p_tuning`` wrap the backbone with PEFT (the head stays
trainable). Prompt and P-tuning prepend virtual tokens to the outputs too: ``shift`` accounts for them.

Every model returns ``(loss_sum, count, logits)``: the loss summed over what it counts (examples or
target tokens), so the training loop can average over a global batch split across processes exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from langgpt.errors import UsageError
from langgpt.runtime.settings import RunSettings

#: LoRA target modules by architecture (PEFT's own defaults cover others)
LORA_TARGETS: dict[str, tuple[str, ...]] = {
    "bert": ("query", "value"),
    "roberta": ("query", "value"),
    "xlm-roberta": ("query", "value"),
    "electra": ("query", "value"),
    "distilbert": ("q_lin", "v_lin"),
    "gpt2": ("c_attn",),
    "t5": ("q", "v"),
    "bart": ("q_proj", "v_proj"),
    "llama": ("q_proj", "v_proj"),
    "mistral": ("q_proj", "v_proj"),
    "qwen2": ("q_proj", "v_proj"),
}


def classify_mode(settings: RunSettings, config: Any) -> str:
    """How classify reads the answer from this model (see langgpt.runtime.examples.MODES)."""
    from langgpt.hf import model_kind

    kind = model_kind(config)
    if settings.head == "plain":
        if kind == "seq2seq":
            raise UsageError("head: plain needs an encoder or a causal LM; on a seq2seq model use head: verbalizer")
        return "plain"
    if kind != "masked":
        return kind
    architectures = " ".join(getattr(config, "architectures", None) or [])
    return "mlm" if ("MaskedLM" in architectures or "ForPreTraining" in architectures) else "embedding"


def generation_kind(config: Any) -> str:
    from langgpt.hf import model_kind

    kind = model_kind(config)
    if kind == "masked":
        raise UsageError(
            "task generate needs a causal or seq2seq language model (e.g. GPT-2 or T5); "
            f"`{config.model_type}` is an encoder: pass --model PATH to a causal or seq2seq model"
        )
    return kind


# ----------------------------------------------------------------------------- task modules


class WordScorer(nn.Module):
    """Scores of the label words read from an LM's vocabulary logits at one position per example."""

    def __init__(self, lm: nn.Module, word_ids: list[list[list[int]]], shift: int, seq2seq: bool) -> None:
        super().__init__()
        self.lm = lm
        self.shift = shift
        self.seq2seq = seq2seq
        flat: list[int] = []
        weights: list[tuple[int, int, float]] = []
        for label, words in enumerate(word_ids):
            for word in words:
                for token in word:
                    weights.append((label, len(flat), 1.0 / (len(words) * len(word))))
                    flat.append(token)
        matrix = torch.zeros(len(word_ids), len(flat))
        for label, column, weight in weights:
            matrix[label, column] = weight
        self.register_buffer("ids", torch.tensor(flat, dtype=torch.long), persistent=False)
        self.register_buffer("average", matrix, persistent=False)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.seq2seq:
            start = torch.full((batch["input_ids"].shape[0], 1), _decoder_start(self.lm), dtype=torch.long)
            out = self.lm(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                decoder_input_ids=start.to(batch["input_ids"].device),
            )
            vocab = out.logits[:, 0]
        else:
            out = self.lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            rows = torch.arange(batch["input_ids"].shape[0], device=out.logits.device)
            vocab = out.logits[rows, batch["position"] + self.shift]
        logits = vocab[:, self.ids] @ self.average.T
        return _classification_loss(logits, batch)


class _LinearOnEncoder(nn.Module):
    """An encoder and a linear head over its hidden states (after dropout)."""

    def __init__(self, encoder: nn.Module, head: nn.Linear, shift: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.shift = shift
        self.drop = nn.Dropout(dropout)


class HiddenHead(_LinearOnEncoder):
    """A linear class head on the backbone's hidden state at one position per example."""

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = _hidden(self.encoder, batch)
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        logits = self.head(self.drop(hidden[rows, batch["position"] + self.shift]))
        return _classification_loss(logits, batch)


class PrototypeHead(nn.Module):
    """Cosine similarity between the mean-pooled text embedding and one prototype per class.

    For sentence encoders without an LM head (the embedded MiniLM): each prototype starts as the
    encoder's own embedding of the class's label words, so the untrained model already classifies
    by meaning (zero-shot, the way sentence-embedding models are used), and training moves both the
    encoder (per the method) and the prototypes."""

    def __init__(self, encoder: nn.Module, prototypes: torch.Tensor, shift: int, scale: float = 20.0) -> None:
        super().__init__()
        self.encoder = encoder
        self.prototypes = nn.Parameter(prototypes.clone())
        self.shift = shift
        self.scale = scale

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = _hidden(self.encoder, batch)[:, self.shift :]
        pooled = mean_pool(hidden, batch["attention_mask"])
        logits = (
            self.scale * nn.functional.normalize(pooled, dim=-1) @ nn.functional.normalize(self.prototypes, dim=-1).T
        )
        return _classification_loss(logits, batch)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask[:, : hidden.shape[1]].unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


@torch.no_grad()
def word_prototypes(encoder: nn.Module, tokenizer: Any, words: list[list[str]]) -> torch.Tensor:
    """Per class, the mean of its label words' mean-pooled embeddings (the encoder in eval mode)."""
    was_training = encoder.training
    encoder.eval()
    rows = []
    for label_words in words:
        encoded = tokenizer(label_words, padding=True, return_tensors="pt")
        hidden = encoder(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]).last_hidden_state
        rows.append(mean_pool(hidden, encoded["attention_mask"]).mean(0))
    encoder.train(was_training)
    return torch.stack(rows)


class TokenTagger(_LinearOnEncoder):
    """A linear tag head on every token (ner); virtual prompt tokens are cut off first."""

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = _hidden(self.encoder, batch)[:, self.shift :]
        logits = self.head(self.drop(hidden))
        labels = batch["labels"]
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100, reduction="sum"
        )
        return loss, (labels != -100).sum(), logits


class Generator(nn.Module):
    """The language model itself; the loss is summed over target tokens."""

    def __init__(self, lm: nn.Module, seq2seq: bool) -> None:
        super().__init__()
        self.lm = lm
        self.seq2seq = seq2seq

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        labels = batch["labels"]
        if self.seq2seq:
            out = self.lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels)
            logits = out.logits
            shifted = labels
        else:
            out = self.lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            logits = out.logits[:, -labels.shape[1] :]  # virtual prompt tokens come first: drop them
            logits = logits[:, :-1]
            shifted = labels[:, 1:]
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), shifted.reshape(-1), ignore_index=-100, reduction="sum"
        )
        return loss, (shifted != -100).sum(), logits


def _classification_loss(
    logits: torch.Tensor, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    label = batch.get("label")
    if label is None:
        zero = logits.sum() * 0
        return zero, torch.tensor(0), logits
    loss = nn.functional.cross_entropy(logits.float(), label, reduction="sum")
    return loss, torch.tensor(label.shape[0]), logits


def _hidden(encoder: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    out = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    hidden: torch.Tensor = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
    return hidden


def _decoder_start(lm: nn.Module) -> int:
    config = getattr(lm, "config", None)
    start = getattr(config, "decoder_start_token_id", None)
    if start is None:
        start = getattr(config, "pad_token_id", 0) or 0
    return int(start)


# ----------------------------------------------------------------------------- building


class Built:
    """A task model with what the runtime needs to drive it."""

    def __init__(self, module: nn.Module, backbone: nn.Module, kind: str, mode: str) -> None:
        self.module = module
        self.backbone: Any = backbone  # the (possibly PEFT-wrapped) Hugging Face model
        self.kind = kind  # causal | seq2seq | masked
        self.mode = mode  # classify reading, or "tagger" / "generator"

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)

    def total_parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())


def build_model(
    settings: RunSettings,
    tokenizer: Any,
    *,
    labels: tuple[str, ...],
    word_ids: list[list[list[int]]] | None = None,
    words: list[list[str]] | None = None,
    trust_remote_code: bool = False,
) -> Built:
    """The task model for ``settings`` (weights initialised with ``settings.seed``)."""
    from transformers import AutoConfig

    from langgpt.hf import load_model, model_kind, quiet_environment, resolve_model

    quiet_environment()
    where = resolve_model(settings.model)
    config = AutoConfig.from_pretrained(where, trust_remote_code=trust_remote_code)
    kind = model_kind(config)
    torch.manual_seed(settings.seed)
    task = settings.task
    if task == "generate":
        kind = generation_kind(config)
        lm = load_model(settings.model, kind, trust_remote_code)
        backbone, shift = apply_method(lm, settings, _task_type(kind), tokenizer)
        return Built(Generator(backbone, kind == "seq2seq"), backbone, kind, "generator")
    if task == "ner":
        if kind != "masked":
            raise UsageError("task ner needs an encoder model (BERT-like, e.g. the default minilm)")
        encoder = load_model(settings.model, "base", trust_remote_code)
        head = nn.Linear(encoder.config.hidden_size, len(labels))
        backbone, shift = apply_method(encoder, settings, "FEATURE_EXTRACTION", tokenizer)
        return Built(TokenTagger(backbone, head, shift, _dropout(config)), backbone, kind, "tagger")
    mode = classify_mode(settings, config)
    if mode in ("mlm", "causal", "seq2seq"):
        if not word_ids:
            raise UsageError("prompt-based classification needs label words (a `verbalizer` block)")
        lm = load_model(settings.model, {"mlm": "masked"}.get(mode, mode), trust_remote_code)
        task_type = "FEATURE_EXTRACTION" if mode == "mlm" else _task_type(kind)
        backbone, shift = apply_method(lm, settings, task_type, tokenizer)
        return Built(
            WordScorer(backbone, word_ids, 0 if mode == "seq2seq" else shift, mode == "seq2seq"), backbone, kind, mode
        )
    encoder = load_model(settings.model, "base", trust_remote_code)
    if mode == "embedding":
        prototypes = word_prototypes(encoder, tokenizer, words or [[name] for name in labels])
        backbone, shift = apply_method(encoder, settings, "FEATURE_EXTRACTION", tokenizer)
        return Built(PrototypeHead(backbone, prototypes, shift), backbone, kind, mode)
    head = nn.Linear(encoder.config.hidden_size, len(labels))
    backbone, shift = apply_method(encoder, settings, "FEATURE_EXTRACTION", tokenizer)
    return Built(HiddenHead(backbone, head, shift, _dropout(config)), backbone, kind, mode)


def _task_type(kind: str) -> str:
    return {"causal": "CAUSAL_LM", "seq2seq": "SEQ_2_SEQ_LM"}.get(kind, "FEATURE_EXTRACTION")


def _dropout(config: Any) -> float:
    value = getattr(config, "hidden_dropout_prob", None) or getattr(config, "dropout", None) or 0.0
    return float(value)


def apply_method(model: nn.Module, settings: RunSettings, task_type: str, tokenizer: Any) -> tuple[nn.Module, int]:
    """Freeze or wrap ``model`` for the method; returns the model to call and the virtual-token shift."""
    method = settings.method
    if method == "full":
        return model, 0
    if method == "bitfit":
        biases = 0
        for name, parameter in model.named_parameters():
            parameter.requires_grad = name.endswith("bias")
            biases += parameter.requires_grad
        if not biases:
            model_type = getattr(getattr(model, "config", None), "model_type", "this model")
            raise UsageError(f"bitfit trains bias terms, and `{model_type}` has none: choose another method")
        return model, 0
    import peft

    config = _peft_config(model, settings, task_type, tokenizer)
    try:
        wrapped = peft.get_peft_model(model, config)
    except ValueError as exc:
        raise UsageError(f"{method} cannot be applied to `{settings.model}`: {exc}") from None
    shift = settings.tokens if method in ("prompt_tuning", "p_tuning") and task_type != "SEQ_2_SEQ_LM" else 0
    return wrapped, shift


def _peft_config(model: nn.Module, settings: RunSettings, task_type: str, tokenizer: Any) -> Any:
    import peft

    config: Any = model.config

    common: dict[str, Any] = {"task_type": task_type}
    if settings.method == "lora":
        targets = LORA_TARGETS.get(config.model_type)
        return peft.LoraConfig(
            r=settings.r,
            lora_alpha=settings.alpha,
            lora_dropout=settings.dropout,
            target_modules=list(targets) if targets else None,
            fan_in_fan_out=config.model_type == "gpt2",
            **common,
        )
    if settings.method == "prompt_tuning":
        config = peft.PromptTuningConfig(num_virtual_tokens=settings.tokens, **common)
        if settings.init_text:
            config.prompt_tuning_init = peft.PromptTuningInit.TEXT
            config.prompt_tuning_init_text = settings.init_text
            config.tokenizer_name_or_path = tokenizer.name_or_path
        return config
    if settings.method == "prefix_tuning":
        if task_type == "FEATURE_EXTRACTION" and config.model_type not in ("bert", "roberta", "xlm-roberta"):
            raise UsageError(f"prefix_tuning is not supported for `{config.model_type}` encoders here")
        return peft.PrefixTuningConfig(num_virtual_tokens=settings.tokens, **common)
    if settings.method == "p_tuning":
        return peft.PromptEncoderConfig(
            num_virtual_tokens=settings.tokens, encoder_hidden_size=config.hidden_size, **common
        )
    raise UsageError(f"unknown method `{settings.method}`")


def unwrap(module: nn.Module) -> nn.Module:
    """The task module inside a DistributedDataParallel wrapper."""
    inner = getattr(module, "module", None)
    return inner if isinstance(inner, nn.Module) and type(module).__name__.endswith("DataParallel") else module
