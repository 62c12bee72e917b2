"""The training runtime through its Python API (``langgpt.runtime.api``: ``run``, ``evaluate``, ``predict``).

Tiny models built on the fly (tests/tinymodels.py) and a few self-written rows keep every run to a few
steps. The central check of each run is that training really happened, and only where the method says:
``langgpt.runtime.loop.train`` is wrapped to snapshot every parameter of the task model before and after
the loop, so a test can see that the trainable tensors moved, the frozen ones did not, and that
``weights.safetensors`` holds exactly the trained tensors.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("safetensors")

from safetensors.torch import load_file  # noqa: E402

from langgpt.errors import DiagnosticError, UsageError  # noqa: E402
from langgpt.runtime import api, loop  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

METHODS = ("full", "lora", "prompt_tuning", "prefix_tuning", "p_tuning", "bitfit")
PROMPT_METHODS = ("prompt_tuning", "prefix_tuning", "p_tuning")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# ----------------------------------------------------------------------------- sources and data

CLASSIFY_LGPT = """\
lgpt 1

var sentence: text "the review"
var label: label {negative, positive} "the gold sentiment"

template cloze {
  text: "Review: {sentence} Sentiment: {answer}"
  answer: label
}

verbalizer words for label {
  negative: "terrible", "bad"
  positive: "great", "good"
}

train {
  method: full
  task: classify
  entry: cloze
  epochs: 1
  lr: 5e-3
  batch_size: 4
  seed: 7
  log_every: 1
  save_every: 1000
}
"""

NER_LGPT = """\
lgpt 1

var tokens: list[text] "the sentence, split into tokens"
var tags: list[text] "one BIO tag per token"

template tag {
  text: "Tokens: {tokens} Tags: {answer}"
  answer: tags
}

train {
  task: ner
  method: full
  epochs: 1
  lr: 5e-3
  batch_size: 4
  seed: 7
  log_every: 1
}
"""

GENERATE_LGPT = """\
lgpt 1

var sentence: text "the review"
var verdict: text "a one-word verdict"

template judge {
  text: "Review: {sentence} Sentiment: {answer}"
  answer: verdict
}

train {
  task: generate
  method: full
  epochs: 1
  lr: 5e-3
  batch_size: 4
  seed: 7
  log_every: 1
  max_new_tokens: 3
}
"""

POSITIVE = [
    "great film",
    "good phone",
    "the acting was great",
    "great battery",
    "good quality",
    "a great plot",
    "the film was good",
    "great and good",
]
NEGATIVE = [
    "terrible film",
    "bad phone",
    "the acting was bad",
    "terrible battery",
    "bad quality",
    "a terrible plot",
    "the film was bad",
    "bad and terrible",
]
NER_SENTENCES = [
    (["the", "film", "was", "great"], ["O", "B-THING", "O", "B-MOOD"]),
    (["great", "phone", "and", "bad", "review"], ["B-MOOD", "B-THING", "O", "B-MOOD", "O"]),
    (["terrible", "plot"], ["B-MOOD", "B-THING"]),
    (["the", "battery", "lasts", "for", "days"], ["O", "B-THING", "O", "O", "O"]),
    (["good", "acting"], ["B-MOOD", "B-THING"]),
    (["bad", "dialogue", "and", "terrible", "service"], ["B-MOOD", "B-THING", "O", "B-MOOD", "B-THING"]),
]
NER_TAGS = ("O", "B-MOOD", "I-MOOD", "B-THING", "I-THING")  # O, then B-/I- per type in sorted order


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def conll_text(sentences: list[tuple[list[str], list[str]]]) -> str:
    return "\n".join("".join(f"{w} {t}\n" for w, t in zip(words, tags, strict=True)) for words, tags in sentences)


class Files:
    """The .lgpt sources and data files every test of this module reads (written once, never changed)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.classify = root / "classify.lgpt"
        self.classify.write_text(CLASSIFY_LGPT, encoding="utf-8")
        self.ner = root / "ner.lgpt"
        self.ner.write_text(NER_LGPT, encoding="utf-8")
        self.generate = root / "generate.lgpt"
        self.generate.write_text(GENERATE_LGPT, encoding="utf-8")
        rows: list[dict[str, Any]] = []
        for good, bad in zip(POSITIVE, NEGATIVE, strict=True):
            rows += [{"sentence": good, "label": "positive"}, {"sentence": bad, "label": "negative"}]
        self.cls_rows = rows
        self.cls_train = write_jsonl(root / "cls_train.jsonl", rows)
        self.cls_eval = write_jsonl(root / "cls_eval.jsonl", rows[:6])
        self.cls_bad = write_jsonl(root / "cls_bad.jsonl", [*rows, {"sentence": "meh film", "label": "neutral"}])
        self.ner_train = write_jsonl(root / "ner.jsonl", [{"tokens": w, "tags": t} for w, t in NER_SENTENCES])
        self.ner_conll = root / "ner.conll"
        self.ner_conll.write_text(conll_text(NER_SENTENCES), encoding="utf-8")
        self.ner_bad = root / "ner_bad.conll"
        self.ner_bad.write_text("the O\nfilm B-THING\n\ngreat B-MOOD\nphone THING\n", encoding="utf-8")
        verdicts = [("the film was great", "good"), ("a terrible plot", "bad"), ("great phone", "good")]
        verdicts += [("bad quality and terrible service", "bad")]
        gen_rows = [{"sentence": s, "verdict": v} for s, v in verdicts * 2]
        self.gen_train = write_jsonl(root / "gen.jsonl", gen_rows)
        self.gen_eval = write_jsonl(root / "gen_eval.jsonl", gen_rows[:4])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("runtime_files"))


@pytest.fixture(scope="module")
def models(gpt2_dir: str, bert_dir: str, t5_dir: str) -> dict[str, str]:
    return {"bert": bert_dir, "gpt2": gpt2_dir, "t5": t5_dir}


# ----------------------------------------------------------------------------- watching the training loop


class Capture:
    """Every parameter of the task model right before and right after ``loop.train``."""

    def __init__(self) -> None:
        self.before: dict[str, Any] = {}  # name -> tensor
        self.after: dict[str, Any] = {}
        self.trainable: set[str] = set()
        self.calls = 0

    @property
    def frozen(self) -> set[str]:
        return set(self.before) - self.trainable

    def changed(self) -> set[str]:
        return {n for n in self.before if not torch.equal(self.before[n], self.after[n])}

    def numel(self, names: set[str]) -> int:
        return sum(self.before[n].numel() for n in names)


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Capture:
    seen = Capture()
    real = loop.train

    def watched(module: Any, *args: Any, **kwargs: Any) -> Any:
        seen.calls += 1
        seen.before = {n: p.detach().cpu().clone() for n, p in module.named_parameters()}
        seen.trainable = {n for n, p in module.named_parameters() if p.requires_grad}
        result = real(module, *args, **kwargs)
        seen.after = {n: p.detach().cpu().clone() for n, p in module.named_parameters()}
        return result

    monkeypatch.setattr(loop, "train", watched)
    return seen


def is_head(name: str) -> bool:
    """Task-head parameters the runtime adds beside the backbone (trainable under every method)."""
    return name.startswith("head.") or name == "prototypes"


def check_training(seen: Capture, result: api.RunResult, method: str) -> None:
    """The method's parameters trained, nothing else moved, weights.safetensors holds the trained ones."""
    assert seen.calls == 1
    trainable, frozen = seen.trainable, seen.frozen
    assert result.trainable_parameters == seen.numel(trainable)
    assert result.total_parameters == seen.numel(set(seen.before))
    backbone = {n for n in trainable if not is_head(n)}
    heads = trainable - backbone
    assert backbone, "no backbone parameter is trainable"
    if method == "full":
        assert not frozen
        assert result.trainable_parameters == result.total_parameters
    else:
        assert frozen
        assert 0 < result.trainable_parameters < result.total_parameters
    if method == "bitfit":
        assert all(n.endswith("bias") for n in backbone), sorted(backbone)[:5]
        biases = {n for n in seen.before if n.endswith("bias") and not is_head(n)}
        assert backbone == biases  # every bias of the backbone, and only biases
    elif method == "lora":
        assert all("lora_" in n for n in backbone), sorted(backbone)[:5]
    elif method in PROMPT_METHODS:
        assert all("prompt_encoder" in n for n in backbone), sorted(backbone)[:5]
        # the backbone itself is frozen: at most the virtual-token parameters (and a head) train
        assert result.trainable_parameters - seen.numel(heads) < result.total_parameters // 2
    changed = seen.changed()
    assert changed & backbone, f"{method}: no backbone parameter changed in training"
    assert heads <= changed, f"{method}: the task head did not train"
    moved = changed & frozen
    assert not moved, f"{method}: frozen parameters changed: {sorted(moved)[:5]}"
    assert result.run_dir is not None
    saved = load_file(str(result.run_dir / "weights.safetensors"))
    assert set(saved) == trainable
    for name, tensor in saved.items():
        assert torch.equal(tensor, seen.after[name]), name


def check_classify_metrics(result: api.RunResult, labels: tuple[str, ...]) -> dict[str, Any]:
    assert result.run_dir is not None
    metrics: dict[str, Any] = json.loads((result.run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"] == "classify"
    for stage in (metrics, metrics["before"]):
        assert isinstance(stage["accuracy"], float) and 0.0 <= stage["accuracy"] <= 1.0
        assert isinstance(stage["macro_f1"], float) and 0.0 <= stage["macro_f1"] <= 1.0
        assert set(stage["report"]) == set(labels)
    assert result.after is not None and metrics["accuracy"] == result.after["accuracy"]
    assert metrics["before"] == result.before
    assert metrics["train"]["steps"] == result.steps > 0
    assert math.isfinite(metrics["train"]["final_loss"])
    return metrics


def run_classify(files: Files, model: str, **overrides: Any) -> Callable[[Path], api.RunResult]:
    def go(output: Path) -> api.RunResult:
        return api.run(
            files.classify,
            train=files.cls_train,
            eval=files.cls_eval,
            output=output,
            overrides={"model": model, "tokens": 4, **overrides},
            progress=False,
        )

    return go


# ----------------------------------------------------------------------------- 1. classify: methods x models

CLASSIFY_CASES = [
    *(pytest.param("bert", m, "verbalizer", id=f"bert-mlm-{m}") for m in METHODS),
    *(pytest.param("gpt2", m, "verbalizer", id=f"gpt2-causal-{m}") for m in METHODS),
    *(pytest.param("t5", m, "verbalizer", id=f"t5-seq2seq-{m}") for m in ("full", "lora", "prompt_tuning", "p_tuning")),
    pytest.param("bert", "full", "plain", id="bert-plain-full"),
    pytest.param("bert", "bitfit", "plain", id="bert-plain-bitfit"),
    pytest.param(
        "gpt2",
        "full",
        "plain",
        id="gpt2-plain-full",
    ),
]


@pytest.mark.parametrize(("model", "method", "head"), CLASSIFY_CASES)
def test_classify_trains_the_methods_parameters(
    model: str, method: str, head: str, files: Files, models: dict[str, str], capture: Capture, tmp_path: Path
) -> None:
    result = run_classify(files, models[model], method=method, head=head)(tmp_path / "run")
    assert result.task == "classify"
    assert result.labels == ("negative", "positive")
    assert result.train_examples == 16 and result.eval_examples == 6
    assert result.steps == 4  # 16 rows, batch 4, 1 epoch
    check_classify_metrics(result, result.labels)
    check_training(capture, result, method)
    if head == "plain":
        assert any(n.startswith("head.") for n in capture.trainable)
    else:  # prompt-based: the LM's own vocabulary scores, no new head
        assert not any(is_head(n) for n in capture.before)


@pytest.mark.parametrize("task", ["classify", "generate"])
def test_bitfit_on_a_model_without_biases_is_a_usage_error(
    task: str, files: Files, t5_dir: str, tmp_path: Path
) -> None:
    source, train = (files.classify, files.cls_train) if task == "classify" else (files.generate, files.gen_train)
    with pytest.raises(UsageError, match="bitfit"):
        api.run(
            source,
            train=train,
            output=tmp_path / "run",
            overrides={"model": t5_dir, "method": "bitfit"},
            progress=False,
        )


def test_plain_head_on_seq2seq_is_a_clear_usage_error(files: Files, t5_dir: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"(?i)plain|seq2seq|t5"):
        run_classify(files, t5_dir, head="plain")(tmp_path / "run")


@pytest.mark.parametrize(
    ("task", "model", "message"), [("ner", "gpt2", "encoder"), ("generate", "bert", "causal or seq2seq")]
)
def test_task_on_the_wrong_kind_of_model_is_a_usage_error(
    task: str, model: str, message: str, files: Files, models: dict[str, str], tmp_path: Path
) -> None:
    source, train = (files.ner, files.ner_train) if task == "ner" else (files.generate, files.gen_train)
    with pytest.raises(UsageError, match=message):
        api.run(source, train=train, output=tmp_path / "run", overrides={"model": models[model]}, progress=False)


# ----------------------------------------------------------------------------- 2. ner


NER_CASES = [
    *(pytest.param(m, "jsonl", id=f"{m}-jsonl") for m in METHODS),
    pytest.param("lora", "conll", id="lora-conll"),
]


@pytest.mark.parametrize(("method", "form"), NER_CASES)
def test_ner_on_bert(method: str, form: str, files: Files, bert_dir: str, capture: Capture, tmp_path: Path) -> None:
    data = files.ner_train if form == "jsonl" else files.ner_conll
    result = api.run(
        files.ner,
        train=data,
        eval=data,
        output=tmp_path / "run",
        overrides={"model": bert_dir, "method": method, "tokens": 4},
        progress=False,
    )
    assert result.task == "ner"
    assert result.labels == NER_TAGS
    assert result.steps == 2  # 6 sentences, batch 4
    check_training(capture, result, method)
    assert any(n.startswith("head.") for n in capture.trainable)
    run_dir = result.run_dir
    assert run_dir is not None
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    for stage in (metrics, metrics["before"]):
        for key in ("f1", "precision", "recall"):
            assert 0.0 <= stage[key] <= 1.0
        assert set(stage["per_type"]) == {"MOOD", "THING"}  # the gold types, found or missed
        assert stage["sentences"] == len(NER_SENTENCES)
    assert json.loads((run_dir / "labels.json").read_text(encoding="utf-8")) == list(NER_TAGS)
    predictions = read_jsonl(run_dir / "predictions.jsonl")
    assert len(predictions) == len(NER_SENTENCES)
    for record, (words, tags) in zip(predictions, NER_SENTENCES, strict=True):
        assert record["tokens"] == words
        assert record["gold"] == tags
        assert len(record["prediction"]) == len(words)
        assert set(record["prediction"]) <= set(NER_TAGS)
    rows = [p["row"] for p in predictions]
    if form == "jsonl":
        assert rows == [1, 2, 3, 4, 5, 6]
    else:  # the CoNLL line of each sentence's first token
        starts, line = [], 1
        for words, _ in NER_SENTENCES:
            starts.append(line)
            line += len(words) + 1
        assert rows == starts


# ----------------------------------------------------------------------------- 3. generate


GENERATE_CASES = [
    pytest.param(model, m, id=f"{model}-{m}") for model in ("gpt2", "t5") for m in ("full", "lora", "prompt_tuning")
]


@pytest.mark.parametrize(("model", "method"), GENERATE_CASES)
def test_generate(
    model: str, method: str, files: Files, models: dict[str, str], capture: Capture, tmp_path: Path
) -> None:
    result = api.run(
        files.generate,
        train=files.gen_train,
        eval=files.gen_eval,
        output=tmp_path / "run",
        overrides={"model": models[model], "method": method, "tokens": 4},
        progress=False,
    )
    assert result.task == "generate" and result.labels == ()
    check_training(capture, result, method)
    assert result.run_dir is not None
    metrics = json.loads((result.run_dir / "metrics.json").read_text(encoding="utf-8"))
    for stage in (metrics, metrics["before"]):
        assert 0.0 <= stage["bleu"] <= 100.0
        assert 0.0 <= stage["chrf"] <= 100.0
        assert math.isfinite(stage["perplexity"]) and stage["perplexity"] >= 1.0
        assert stage["target_tokens"] > 0
    # training lowered the perplexity of what it trained on (the eval rows are training rows)
    assert metrics["perplexity"] < metrics["before"]["perplexity"]
    predictions = read_jsonl(result.run_dir / "predictions.jsonl")
    assert [p["gold"] for p in predictions] == ["good", "bad", "good", "bad"]
    assert all(isinstance(p["prediction"], str) for p in predictions)


def test_generate_loss_goes_down(files: Files, gpt2_dir: str, tmp_path: Path) -> None:
    result = api.run(
        files.generate,
        train=files.gen_train,
        output=tmp_path / "run",
        overrides={"model": gpt2_dir, "method": "full", "lr": 1e-3, "batch_size": 2, "epochs": 10, "log_every": 5},
        progress=False,
    )
    assert result.steps == 40  # 8 rows, batch 2, 10 epochs
    assert result.before is None and result.after is None  # no --eval
    assert result.run_dir is not None
    log = read_jsonl(result.run_dir / "train_log.jsonl")
    assert [r["step"] for r in log] == list(range(5, 41, 5))
    assert log[-1]["loss"] < 0.75 * log[0]["loss"], [r["loss"] for r in log]
    assert log[-1]["lr"] < log[0]["lr"]  # linear decay


# ----------------------------------------------------------------------------- 4. the run directory


def test_run_directory(files: Files, bert_dir: str, tmp_path: Path) -> None:
    output = tmp_path / "run"
    result = api.run(
        files.classify,
        train=files.cls_train,
        eval=files.cls_eval,
        output=output,
        # the train block says epochs 1 and save_every 1000: the overrides win
        overrides={"model": bert_dir, "method": "lora", "epochs": 2, "save_every": 3, "log_every": 2},
        progress=False,
    )
    assert result.run_dir == output
    assert result.steps == 8
    config = json.loads((output / "config.json").read_text(encoding="utf-8"))
    assert config["epochs"] == 2.0 and config["save_every"] == 3  # overrides
    assert config["lr"] == 5e-3 and config["batch_size"] == 4 and config["entry"] == "cloze"  # the train block
    assert config["model"] == bert_dir and config["method"] == "lora"
    assert config["r"] == 8  # a default
    assert config == result.settings

    source = json.loads((output / "source.json").read_text(encoding="utf-8"))
    from langgpt.compiler import load

    (name,) = load(files.classify).sources
    text = files.classify.read_text(encoding="utf-8")
    # named relative to the main file's folder, so the hash does not depend on the working directory
    relative = Path(name).name
    assert source["sha256"] == hashlib.sha256(relative.encode() + b"\0" + text.encode() + b"\0").hexdigest()
    assert source["train"] == str(files.cls_train) and source["eval"] == str(files.cls_eval)

    assert json.loads((output / "labels.json").read_text(encoding="utf-8")) == ["negative", "positive"]
    verbalizer = json.loads((output / "verbalizer.json").read_text(encoding="utf-8"))
    assert [label["label"] for label in verbalizer["labels"]] == ["negative", "positive"]
    compiled = read_jsonl(output / "data" / "train.jsonl")
    assert len(compiled) == 16
    assert compiled[0]["prompt"] == "Review: great film Sentiment:" and compiled[0]["label"] == 1
    assert len(read_jsonl(output / "data" / "eval.jsonl")) == 6

    log = read_jsonl(output / "train_log.jsonl")
    assert [r["step"] for r in log] == [2, 4, 6, 8]
    assert all(math.isfinite(r["loss"]) and r["lr"] >= 0 for r in log)
    assert log[-1]["epoch"] == 2.0
    assert (output / "loss.png").read_bytes()[:8] == PNG_MAGIC

    weights = load_file(str(output / "weights.safetensors"))
    assert weights and all("lora_" in n for n in weights)
    adapter = json.loads((output / "adapter" / "adapter_config.json").read_text(encoding="utf-8"))
    assert adapter["peft_type"] == "LORA" and adapter["r"] == 8
    from peft import PeftModel
    from transformers import AutoModelForMaskedLM

    loaded = PeftModel.from_pretrained(AutoModelForMaskedLM.from_pretrained(bert_dir), str(output / "adapter"))
    lora = {n: p for n, p in loaded.named_parameters() if "lora_" in n}
    assert lora and {f"lm.{n}" for n in lora} == set(weights)
    for n, p in lora.items():
        assert torch.equal(p.detach(), weights[f"lm.{n}"]), n

    predictions = read_jsonl(output / "predictions.jsonl")
    assert [p["row"] for p in predictions] == [1, 2, 3, 4, 5, 6]
    assert [p["gold"] for p in predictions] == ["positive", "negative"] * 3
    assert all(p["prediction"] in ("negative", "positive") and 0.5 <= p["confidence"] <= 1.0 for p in predictions)

    latest = json.loads((output / "checkpoints" / "latest.json").read_text(encoding="utf-8"))
    assert latest == {"step": 6, "folder": "step-0000006"}
    kept = sorted(p.name for p in (output / "checkpoints").iterdir() if p.is_dir())
    assert kept == ["step-0000003", "step-0000006"]  # keep_checkpoints: 2
    for piece in ("weights", "optimizer", "rng"):
        assert (output / "checkpoints" / "step-0000006" / f"{piece}.safetensors").is_file()

    metrics = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["train"]["steps"] == 8 and metrics["train"]["examples"] == 16
    assert metrics["eval"]["examples"] == 6


def test_no_checkpoints_when_save_every_exceeds_the_run(files: Files, bert_dir: str, tmp_path: Path) -> None:
    output = tmp_path / "empty"
    output.mkdir()  # an existing but empty folder is fine as a run directory
    result = api.run(
        files.classify, train=files.cls_train, output=output, overrides={"model": bert_dir}, progress=False
    )
    assert result.run_dir == output and result.steps == 4
    assert (output / "metrics.json").is_file() and (output / "weights.safetensors").is_file()
    assert not (output / "checkpoints" / "latest.json").exists()
    assert not (output / "predictions.jsonl").exists()  # no eval data
    assert not (output / "adapter").exists()  # method full: no PEFT adapter
    metrics = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["before"] is None and "accuracy" not in metrics and "eval" not in metrics


def test_existing_output_without_resume_is_refused(files: Files, bert_dir: str, tmp_path: Path) -> None:
    output = tmp_path / "taken"
    output.mkdir()
    (output / "notes.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(UsageError, match="already exists"):
        api.run(files.classify, train=files.cls_train, output=output, overrides={"model": bert_dir}, progress=False)
    assert sorted(p.name for p in output.iterdir()) == ["notes.txt"]  # nothing written into it


def test_resume_needs_a_run_directory(files: Files, bert_dir: str, tmp_path: Path) -> None:
    folder = tmp_path / "not-a-run"
    folder.mkdir()
    with pytest.raises(UsageError, match=r"no config\.json"):
        api.run(
            files.classify,
            train=files.cls_train,
            output=folder,
            resume=True,
            overrides={"model": bert_dir},
            progress=False,
        )
    with pytest.raises(UsageError, match="-o"):
        api.run(
            files.classify,
            train=files.cls_train,
            output=None,
            resume=True,
            overrides={"model": bert_dir},
            progress=False,
        )


class StopAfter:
    """Stands in for loop.StopFlag: reports a Ctrl-C at the end of step ``n``."""

    n = 3

    def __init__(self) -> None:
        self.checks = 0

    def __enter__(self) -> StopAfter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @property
    def raised(self) -> bool:
        self.checks += 1
        return self.checks >= self.n


def test_interrupted_run_resumes_to_the_same_result(
    files: Files, bert_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = {"method": "lora", "epochs": 2, "save_every": 100}
    straight = run_classify(files, bert_dir, **overrides)(tmp_path / "straight")

    monkeypatch.setattr(loop, "StopFlag", StopAfter)
    output = tmp_path / "interrupted"
    with pytest.raises(loop.Interrupted) as stopped:
        run_classify(files, bert_dir, **overrides)(output)
    assert stopped.value.step == 3
    assert stopped.value.checkpoint == output / "checkpoints" / "step-0000003"
    assert not (output / "weights.safetensors").exists()
    monkeypatch.undo()

    settings = {"model": bert_dir, "tokens": 4, **overrides}
    with pytest.raises(UsageError, match=r"settings changed.*\blr\b"):
        api.run(
            files.classify,
            train=files.cls_train,
            output=output,
            resume=True,
            overrides={**settings, "lr": 1e-4},
            progress=False,
        )
    resumed = api.run(
        files.classify,
        train=files.cls_train,
        eval=files.cls_eval,
        output=output,
        overrides=settings,
        resume=True,
        progress=False,
    )
    assert resumed.resumed_from == 3 and resumed.steps == 8 - 3
    assert straight.run_dir is not None
    a = load_file(str(straight.run_dir / "weights.safetensors"))
    b = load_file(str(output / "weights.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.after == straight.after and resumed.before == straight.before
    assert [r["step"] for r in read_jsonl(output / "train_log.jsonl")] == list(range(1, 9))


# ----------------------------------------------------------------------------- 5. determinism


def timeless(metrics: dict[str, Any]) -> dict[str, Any]:
    metrics = json.loads(json.dumps(metrics))
    metrics["train"].pop("seconds")
    metrics["train"].pop("steps_per_s")
    return metrics


@pytest.mark.parametrize(("model", "method"), [("bert", "full"), ("gpt2", "prompt_tuning")])
def test_same_seed_same_run(model: str, method: str, files: Files, models: dict[str, str], tmp_path: Path) -> None:
    """The tiny BERT has dropout 0.1: its random numbers must repeat too."""
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("other-seed", 8)):
        result = run_classify(files, models[model], method=method, seed=seed, epochs=2)(tmp_path / name)
        assert result.run_dir is not None
        weights = load_file(str(result.run_dir / "weights.safetensors"))
        metrics = json.loads((result.run_dir / "metrics.json").read_text(encoding="utf-8"))
        log = [
            {k: v for k, v in r.items() if k != "steps_per_s"} for r in read_jsonl(result.run_dir / "train_log.jsonl")
        ]
        runs[name] = (weights, metrics, log)
    (wa, ma, la), (wb, mb, lb), (wc, _, _) = runs["a"], runs["b"], runs["other-seed"]
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert timeless(ma) == timeless(mb)
    assert la == lb
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)  # control: the seed does matter


# ----------------------------------------------------------------------------- 6. predict and evaluate


@pytest.fixture(scope="module")
def trained(files: Files, bert_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("trained") / "run"
    run_classify(files, bert_dir, method="lora", epochs=2, lr=1e-2)(output)
    return output


def test_predict_rows(files: Files, trained: Path) -> None:
    rows = [{"sentence": "great film"}, {"sentence": "terrible plot"}]
    predictions = api.predict(files.classify, run_dir=trained, rows=rows, progress=False)
    assert len(predictions) == 2
    for record in predictions:
        assert record["prediction"] in ("negative", "positive")
        assert 0.5 <= record["confidence"] <= 1.0
        assert record["gold"] is None
    # the same rows from a file give the same predictions
    path = write_jsonl(files.root / "predict_rows.jsonl", rows)
    assert api.predict(files.classify, run_dir=trained, data=path, progress=False) == predictions


def test_evaluate_matches_the_runs_metrics(files: Files, trained: Path) -> None:
    metrics, predictions = api.evaluate(files.classify, data=files.cls_eval, run_dir=trained, progress=False)
    saved = json.loads((trained / "metrics.json").read_text(encoding="utf-8"))
    for key in ("accuracy", "macro_f1", "report", "examples"):
        assert metrics[key] == saved[key], key
    assert predictions == read_jsonl(trained / "predictions.jsonl")


def test_evaluate_zero_shot_is_the_untrained_model(files: Files, bert_dir: str, trained: Path) -> None:
    """Without a run: the untrained model of the same settings, which is what `before` measured."""
    saved = json.loads((trained / "metrics.json").read_text(encoding="utf-8"))
    metrics, predictions = api.evaluate(
        files.classify,
        data=files.cls_eval,
        overrides={"model": bert_dir, "method": "lora", "tokens": 4, "epochs": 2, "lr": 1e-2},
        progress=False,
    )
    assert metrics == saved["before"]
    assert len(predictions) == 6 and all(p["prediction"] in ("negative", "positive") for p in predictions)


def test_predict_with_a_folder_that_is_not_a_run(files: Files, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a finished run"):
        api.predict(files.classify, run_dir=tmp_path, rows=[{"sentence": "great"}], progress=False)


def test_predict_and_evaluate_ner_and_generate(files: Files, bert_dir: str, gpt2_dir: str, tmp_path: Path) -> None:
    ner_run = tmp_path / "ner"
    api.run(
        files.ner,
        train=files.ner_conll,
        eval=files.ner_conll,
        output=ner_run,
        overrides={"model": bert_dir},
        progress=False,
    )
    metrics, _ = api.evaluate(files.ner, data=files.ner_train, run_dir=ner_run, progress=False)  # JSONL, same sentences
    saved = json.loads((ner_run / "metrics.json").read_text(encoding="utf-8"))
    assert {k: metrics[k] for k in ("f1", "precision", "recall", "per_type")} == {
        k: saved[k] for k in ("f1", "precision", "recall", "per_type")
    }
    (tagged,) = api.predict(files.ner, run_dir=ner_run, rows=[{"tokens": ["great", "film", "today"]}], progress=False)
    assert tagged["tokens"] == ["great", "film", "today"]
    assert len(tagged["prediction"]) == 3 and set(tagged["prediction"]) <= set(NER_TAGS)

    gen_run = tmp_path / "gen"
    api.run(
        files.generate,
        train=files.gen_train,
        eval=files.gen_eval,
        output=gen_run,
        overrides={"model": gpt2_dir},
        progress=False,
    )
    metrics, _ = api.evaluate(files.generate, data=files.gen_eval, run_dir=gen_run, progress=False)
    saved = json.loads((gen_run / "metrics.json").read_text(encoding="utf-8"))
    assert {k: metrics[k] for k in ("bleu", "chrf", "perplexity")} == {
        k: saved[k] for k in ("bleu", "chrf", "perplexity")
    }
    (generated,) = api.predict(files.generate, run_dir=gen_run, rows=[{"sentence": "great film"}], progress=False)
    assert isinstance(generated["prediction"], str) and generated["gold"] is None


def test_ner_without_a_run_is_scored_or_refused(files: Files, bert_dir: str) -> None:
    try:
        metrics, _ = api.evaluate(files.ner, data=files.ner_train, overrides={"model": bert_dir}, progress=False)
    except UsageError as exc:
        assert "--run" in str(exc) or "train" in str(exc)
    else:
        assert 0.0 <= metrics["f1"] <= 1.0


# ----------------------------------------------------------------------------- 7. bad data


def test_unknown_label_is_e405_with_file_and_row(files: Files, bert_dir: str, tmp_path: Path) -> None:
    with pytest.raises(DiagnosticError) as caught:
        api.run(
            files.classify, train=files.cls_bad, output=tmp_path / "run", overrides={"model": bert_dir}, progress=False
        )
    (diag,) = caught.value.diagnostics
    assert diag.code == "E405"
    assert "cls_bad.jsonl:17" in diag.message and "neutral" in diag.message
    assert diag.span is not None and diag.span.line == 17 and diag.span.file.endswith("cls_bad.jsonl")


def test_skip_bad_puts_the_row_in_the_rejects_file(files: Files, bert_dir: str, tmp_path: Path) -> None:
    result = api.run(
        files.classify,
        train=files.cls_bad,
        output=tmp_path / "run",
        overrides={"model": bert_dir},
        skip_bad=True,
        progress=False,
    )
    assert result.train_examples == 16
    assert result.run_dir is not None
    (reject,) = read_jsonl(result.run_dir / "data" / "train.rejects.jsonl")
    assert reject["row"] == 17 and reject["field"] == "label"
    assert reject["original"] == {"sentence": "meh film", "label": "neutral"}
    metrics = json.loads((result.run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["train"]["rejected"] == 1 and metrics["train"]["examples"] == 16


def test_bad_conll_tag_is_e405_with_the_line(files: Files, bert_dir: str, tmp_path: Path) -> None:
    with pytest.raises(DiagnosticError) as caught:
        api.run(files.ner, train=files.ner_bad, output=tmp_path / "run", overrides={"model": bert_dir}, progress=False)
    (diag,) = caught.value.diagnostics
    assert diag.code == "E405"
    assert "ner_bad.conll:5" in diag.message and "THING" in diag.message
    assert diag.span is not None and diag.span.line == 5


def test_a_run_that_fails_on_bad_data_can_be_rerun(files: Files, bert_dir: str, tmp_path: Path) -> None:
    output = tmp_path / "run"
    with pytest.raises(DiagnosticError):
        api.run(files.classify, train=files.cls_bad, output=output, overrides={"model": bert_dir}, progress=False)
    result = api.run(
        files.classify, train=files.cls_train, output=output, overrides={"model": bert_dir}, progress=False
    )
    assert result.steps == 4


def test_missing_data_file_is_a_usage_error(files: Files, bert_dir: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such data file"):
        api.run(
            files.classify,
            train=tmp_path / "absent.jsonl",
            output=tmp_path / "run",
            overrides={"model": bert_dir},
            progress=False,
        )


# ----------------------------------------------------------------------------- 8. settings


def test_unknown_train_setting_is_e401_at_its_position(files: Files, tmp_path: Path) -> None:
    source = tmp_path / "unknown.lgpt"
    text = CLASSIFY_LGPT.replace("  log_every: 1\n", "  log_every: 1\n  colour: red\n")
    source.write_text(text, encoding="utf-8")
    line = text.splitlines().index("  colour: red") + 1
    with pytest.raises(DiagnosticError) as caught:
        api.run(source, train=files.cls_train, output=tmp_path / "run", progress=False)
    (diag,) = caught.value.diagnostics
    assert diag.code == "E401" and "colour" in diag.message
    assert diag.span is not None and (diag.span.line, diag.span.col) == (line, 3)
    assert not (tmp_path / "run").exists()  # refused before anything was created


def test_badly_typed_train_setting_is_e401(files: Files, tmp_path: Path) -> None:
    source = tmp_path / "typed.lgpt"
    text = CLASSIFY_LGPT.replace("  save_every: 1000\n", '  save_every: "often"\n')
    source.write_text(text, encoding="utf-8")
    with pytest.raises(DiagnosticError) as caught:
        api.run(source, train=files.cls_train, output=tmp_path / "run", progress=False)
    (diag,) = caught.value.diagnostics
    assert diag.code == "E401" and "save_every" in diag.message
    assert diag.span is not None and diag.span.line == text.splitlines().index('  save_every: "often"') + 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": "many"}, "epochs"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"lr": True}, "lr"),
        ({"colour": "red"}, "unknown setting"),
        ({"method": "magic"}, "unknown method"),
        ({"epochs": 0}, "positive"),
        ({"warmup": 1.5}, "warmup"),
    ],
)
def test_bad_override_is_a_usage_error(overrides: dict[str, Any], message: str, files: Files, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=message):
        api.run(files.classify, train=files.cls_train, output=tmp_path / "run", overrides=overrides, progress=False)
    assert not (tmp_path / "run").exists()


def test_overrides_are_coerced_and_win(files: Files) -> None:
    """Flags arrive as strings (``--set KEY=VALUE``): converted to the setting's type; they beat the block."""
    from langgpt.compiler import load
    from langgpt.runtime.settings import resolve

    settings = resolve(
        load(files.classify), {"epochs": "2", "batch_size": "8", "lr": "1e-3", "metrics": "accuracy, macro_f1"}
    )
    assert settings.epochs == 2.0 and settings.batch_size == 8 and settings.lr == 1e-3
    assert settings.metrics == ("accuracy", "macro_f1")
    assert settings.seed == 7 and settings.entry == "cloze"  # from the train block
    assert settings.warmup == 0.06  # a default


# ----------------------------------------------------------------------------- 9. the embedded MiniLM


def test_minilm_classifies_by_label_word_prototypes(minilm_dir: str, capture: Capture, tmp_path: Path) -> None:
    said: list[str] = []
    result = api.run(
        "prompts/sentiment.lgpt",
        train=Path("prompts/data/sentiment_train.jsonl"),
        eval=Path("prompts/data/sentiment_eval.jsonl"),
        output=tmp_path / "run",
        overrides={"limit": 32, "eval_limit": 16, "epochs": 1},
        progress=False,
        say=said.append,
    )
    assert result.settings["model"] == "minilm" and result.settings["method"] == "lora"  # the file's train block
    assert result.train_examples == 32 and result.eval_examples == 16
    assert result.steps == 2  # 32 rows, batch 16
    assert "embedding" in "\n".join(said)  # the mode is reported in the run's description
    assert "prototypes" in capture.trainable  # the prototype head, no vocabulary head
    check_training(capture, result, "lora")
    metrics = check_classify_metrics(result, ("negative", "positive"))
    assert metrics["before"]["examples"] == 16
    assert result.after is not None and 0.0 <= result.after["accuracy"] <= 1.0
