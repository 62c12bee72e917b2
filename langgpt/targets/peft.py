"""The soft-prompt / prefix / LoRA target: a ``soft_prompt`` block -> a PEFT adapter folder.

The folder is what ``PeftModel.from_pretrained(base, FOLDER)`` loads directly:

* ``adapter_config.json``: PEFT's config, made portable (no absolute paths: the base model is named as
  given, or as a path relative to the adapter folder);
* ``adapter_model.safetensors``: the adapter's weights, holding the exact initial tensor;
* ``manifest.json``: what langgpt compiled (source sha256, method, tokens, init, token count, model);
* ``init_text.txt``: the init text, when the init has one.

Methods: ``prompt_tuning`` (PromptTuningConfig), ``prefix_tuning`` (PrefixTuningConfig, no projection),
``p_tuning`` (PromptEncoderConfig, MLP or LSTM) and ``lora`` (LoraConfig). The task type follows the
model: a causal LM -> CAUSAL_LM, an encoder-decoder -> SEQ_2_SEQ_LM, an encoder (MiniLM, BERT) ->
SEQ_CLS (the classifier head, seeded, is saved with the adapter as PEFT does for SEQ_CLS).

Inits, as ids of the model's tokenizer (repeated or cut to ``tokens``):

| init | ids |
| --- | --- |
| ``text(Role)`` / ``text(template)`` | the compiled ``text`` target of the role or template, tokenized by PEFT's TEXT rule: ``tokenizer(text)["input_ids"]``, special tokens included |
| ``labels(verbalizer)`` | the verbalizer's label words, in label order, tokenized as label words (``langgpt.targets.verbalizer``) |
| ``words("...")`` | the words, tokenized as label words |
| ``vocab(seed=N)`` | ``tokens`` distinct ids sampled from the vocabulary (special tokens excluded) |
| ``random(seed=N)`` | no ids: a normal tensor with the standard deviation of the input embeddings |

From the ids: prompt tuning and P-tuning start from the model's input embeddings of those ids (the
virtual-token embeddings of P-tuning; its MLP/LSTM is a training-time reparametrisation PEFT does not
save). Prefix tuning starts from the model's own keys and values for those ids (the model run on them,
Li & Liang 2021), so the prefix acts at first as that text would before the input. LoRA takes no init
but ``random(seed=N)``: A is seeded, B is zero (the adapter starts as the identity).

Init text longer than ``tokens`` is cut (``W402``). Same source + model + seed -> identical bytes.
With ``config_only=True`` no weights are loaded: only ``adapter_config.json`` (PEFT's own TEXT init for
prompt tuning), ``manifest.json`` and the init text are written.

torch, transformers and peft are imported inside the functions only.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import langgpt
from langgpt import ast
from langgpt.checks import run_checks
from langgpt.config import SoftPromptSpec, soft_prompt_spec
from langgpt.errors import Diagnostic, DiagnosticError, UsageError
from langgpt.loader import Module, Program
from langgpt.loader import load as _load
from langgpt.records import Record
from langgpt.scope import lookup
from langgpt.targets.verbalizer import (
    dump_json,
    find_block,
    is_embedded_minilm,
    spec_of,
    tokenizer_info,
    word_token_ids,
)
from langgpt.types import VarValue

PEFT_TYPES = {
    "prompt_tuning": "PROMPT_TUNING",
    "prefix_tuning": "PREFIX_TUNING",
    "p_tuning": "P_TUNING",
    "lora": "LORA",
}
TASK_TYPES = {"causal": "CAUSAL_LM", "seq2seq": "SEQ_2_SEQ_LM", "masked": "SEQ_CLS"}
#: LoRA target modules when the block names none (model_type -> modules); others use PEFT's defaults.
LORA_TARGETS = {"gpt2": ("c_attn", "c_proj"), "bert": ("query", "value")}
MANIFEST = "manifest.json"
INIT_TEXT = "init_text.txt"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


class PeftResult(Record):
    output: Path
    method: str
    task_type: str
    tokens: int
    init_kind: str
    init_text: str | None
    init_ids: tuple[int, ...]  # the ids the virtual tokens start from (repeated / cut); () for random
    token_count: int | None  # tokens of the init before repeating or cutting; None without a model
    files: tuple[str, ...]
    manifest: str  # the manifest.json text
    warnings: tuple[Diagnostic, ...]


class _Init(Record):
    kind: str
    argument: str | None
    seed: int
    text: str | None  # text(...) / words(...) / labels(...) as text; None for vocab / random
    rule: str  # "peft_text" | "label_words" | "vocab" | "random"


class _Built(Record):
    task_type: str
    init_ids: tuple[int, ...]
    token_count: int | None
    tokenizer: dict[str, object] | None
    num_labels: int | None
    warnings: tuple[Diagnostic, ...]


def compile_peft(
    program: Program | str | os.PathLike[str],
    *,
    output: str | os.PathLike[str],
    name: str | None = None,
    model: str | None = None,
    config_only: bool = False,
    variables: dict[str, VarValue] | None = None,
) -> PeftResult:
    """Compile the named (or only) ``soft_prompt`` block into a PEFT adapter folder at ``output``
    (replaced atomically; an existing folder is replaced only if it holds a previous adapter).
    ``model``: a local folder, ``minilm`` (None) or a cached hub name. ``variables`` are used to
    render a ``text(...)`` init. Raises DiagnosticError or UsageError."""
    program = program if isinstance(program, Program) else _load(program)
    diagnostics = run_checks(program)
    if any(d.is_error for d in diagnostics):
        raise DiagnosticError(diagnostics)
    module, block = find_block(program, "soft_prompt", name)
    spec, problems = soft_prompt_spec(block)
    if problems:
        raise DiagnosticError(problems)
    _check_lora_init(spec, block)
    init = _resolve_init(program, module, spec, variables)
    target = Path(output)
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        portable = portable_model_name(model, target)
        labels = class_labels(program, module, spec)
        if config_only:
            built = _write_config_only(spec, init, model, portable, staging)
        else:
            built = _write_adapter(spec, init, block, model, portable, labels, staging)
        if init.text is not None:
            (staging / INIT_TEXT).write_text(init.text, encoding="utf-8")
        manifest = _manifest(program, spec, init, built, portable, labels, config_only, staging)
        (staging / MANIFEST).write_text(manifest, encoding="utf-8")
        files = tuple(sorted(p.name for p in staging.iterdir()))
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return PeftResult(
        output=target,
        method=spec.method,
        task_type=built.task_type,
        tokens=spec.tokens,
        init_kind=init.kind,
        init_text=init.text,
        init_ids=built.init_ids,
        token_count=built.token_count,
        files=files,
        manifest=manifest,
        warnings=(*diagnostics, *built.warnings),
    )


def load_adapter(base: Any, directory: str | os.PathLike[str], *, trainable: bool = False) -> Any:
    """``PeftModel.from_pretrained(base, directory)``, also for continuing to train a prompt-learning
    adapter, which peft 0.21 refuses to load trainable: its config is rebuilt trainable and the saved
    weights are loaded into it (for P-tuning a new MLP/LSTM is built over the saved embeddings)."""
    from peft import PeftConfig, PeftModel, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    folder = str(directory)
    config = PeftConfig.from_pretrained(folder)
    if not trainable or not config.is_prompt_learning:
        return PeftModel.from_pretrained(base, folder, is_trainable=trainable)
    config.inference_mode = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(base, config)
    set_peft_model_state_dict(model, load_file(os.path.join(folder, ADAPTER_WEIGHTS)))
    return model


def portable_model_name(model: str | None, output: Path) -> str:
    """The base model as adapter_config.json and the manifest name it: ``minilm`` or a hub name as
    given; a local folder as a path relative to the adapter folder (no absolute paths)."""
    from langgpt.hf import DEFAULT_MODEL

    if model is None or is_embedded_minilm(model):
        return DEFAULT_MODEL
    local = Path(model).expanduser()
    if not local.exists():
        return model
    try:
        return os.path.relpath(local.resolve(), output.resolve()).replace(os.sep, "/")
    except ValueError:  # another drive (Windows)
        return local.resolve().name


def class_labels(program: Program, module: Module, spec: SoftPromptSpec) -> tuple[str, ...] | None:
    """Labels of the classifier head (SEQ_CLS): those of the ``labels(...)`` verbalizer, else of the
    file's first verbalizer with a label variable, else of its first ``label`` variable."""
    if spec.init.kind == "labels" and spec.init.argument is not None:
        found = lookup(module, spec.init.argument)
        if found is not None and isinstance(found.decl, ast.ConfigBlock):
            return tuple(label for label, _ in spec_of(found.module, found.decl).labels)
    for block in program.document.configs():
        if block.kind == "verbalizer" and block.target is not None:
            var = lookup(program.main, block.target)
            if var is not None and isinstance(var.decl, ast.VarDecl) and var.decl.type.name == "label":
                return tuple(var.decl.type.labels or ())
    for decl in program.document.variables():
        if decl.type.name == "label" and decl.type.labels:
            return tuple(decl.type.labels)
    return None


def repeat_to(ids: tuple[int, ...], n: int) -> tuple[int, ...]:
    """PEFT's TEXT rule: ids repeated, then cut, to exactly ``n``."""
    if not ids:
        return ()
    return (ids * math.ceil(n / len(ids)))[:n]


# ---------------------------------------------------------------------------------------------------
# init


def _check_lora_init(spec: SoftPromptSpec, block: ast.ConfigBlock) -> None:
    if spec.method != "lora" or spec.init.kind == "random":
        return
    setting = next((s for s in block.settings if s.key == "init"), None)
    raise DiagnosticError(
        [
            Diagnostic(
                "E401",
                f"LoRA takes no `{spec.init.kind}(...)` init: it starts as the unchanged model (B = 0)",
                setting.span if setting else block.span,
                "no init, or random(seed=N) for LoRA's A matrices",
                "a text, label or vocabulary init applies to prompt_tuning, prefix_tuning and p_tuning",
            )
        ]
    )


def _resolve_init(
    program: Program, module: Module, spec: SoftPromptSpec, variables: dict[str, VarValue] | None
) -> _Init:
    init = spec.init
    if init.kind == "text":
        entry = init.argument
        found = lookup(module, entry) if entry is not None else None
        if found is not None and found.module is not program.main:
            raise UsageError(f"`text({entry})`: only a role or template of the main file can be rendered")
        text = langgpt.compile(program, target="text", entry=entry, variables=variables).output
        return _Init(init.kind, entry, init.seed, text, "peft_text")
    if init.kind == "labels":
        found = lookup(module, init.argument or "")
        assert found is not None and isinstance(found.decl, ast.ConfigBlock)  # the configs check made sure
        words = [w for _, ws in spec_of(found.module, found.decl).labels for w in ws if w.strip()]
        return _Init(init.kind, init.argument, init.seed, " ".join(words), "label_words")
    if init.kind == "words":
        return _Init(init.kind, init.argument, init.seed, init.argument, "label_words")
    return _Init(init.kind, init.argument, init.seed, None, init.kind)


def _init_ids(
    init: _Init, tokenizer: Any, n: int, block: ast.ConfigBlock
) -> tuple[tuple[int, ...], int | None, list[Diagnostic]]:
    """(ids repeated/cut to n, token count before that, W402 warnings)."""
    span = next((s.span for s in block.settings if s.key == "init"), block.span)
    if init.rule in ("peft_text", "label_words"):
        assert init.text is not None
        if init.rule == "peft_text":
            raw = tuple(int(i) for i in tokenizer(init.text, verbose=False)["input_ids"])
        else:
            raw = word_token_ids(tokenizer, init.text)[1]
        if not raw:
            raise DiagnosticError(
                [Diagnostic("E401", f"the `{init.kind}(...)` init gives no tokens", span, "a non-empty init text")]
            )
        problems = []
        if len(raw) > n:
            problems.append(
                Diagnostic(
                    "W402",
                    f"the `{init.kind}({init.argument})` init is {len(raw)} tokens; only the first {n} become the virtual tokens",
                    span,
                    f"an init of at most {n} tokens",
                    "raise `tokens`, or init from a shorter role, template or word list",
                )
            )
        return repeat_to(raw, n), len(raw), problems
    return (), None, []


def _vocab_ids(tokenizer: Any, vocab_size: int, n: int, seed: int) -> tuple[int, ...]:
    import torch

    special = set(tokenizer.all_special_ids)
    candidates = [i for i in range(min(vocab_size, len(tokenizer))) if i not in special]
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(candidates), generator=generator).tolist()
    return repeat_to(tuple(candidates[j] for j in order), n)


# ---------------------------------------------------------------------------------------------------
# building


def _model_config(model: str | None) -> Any:
    from langgpt.hf import _not_loadable, quiet_environment, resolve_model

    quiet_environment()
    from transformers import AutoConfig

    where = resolve_model(model)
    try:
        return AutoConfig.from_pretrained(where)
    except (OSError, ValueError) as exc:
        raise DiagnosticError([_not_loadable(model, where, exc)]) from None


def _peft_config(spec: SoftPromptSpec, task_type: str, targets: tuple[str, ...] | None, fan_in_fan_out: bool) -> Any:
    import peft

    common: dict[str, Any] = {"task_type": task_type, "inference_mode": True}
    if spec.method == "prompt_tuning":
        return peft.PromptTuningConfig(num_virtual_tokens=spec.tokens, **common)
    if spec.method == "prefix_tuning":
        return peft.PrefixTuningConfig(num_virtual_tokens=spec.tokens, prefix_projection=False, **common)
    if spec.method == "p_tuning":
        return peft.PromptEncoderConfig(
            num_virtual_tokens=spec.tokens,
            encoder_reparameterization_type=spec.encoder.upper(),
            encoder_dropout=spec.dropout,
            **common,
        )
    return peft.LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=list(targets) if targets else None,
        fan_in_fan_out=fan_in_fan_out,
        **common,
    )


def _lora_targets(spec: SoftPromptSpec, base: Any) -> tuple[tuple[str, ...] | None, bool]:
    """Target modules (the block's, else the defaults for GPT-2 / BERT, else PEFT's own) and whether
    they are GPT-2 style Conv1D layers (fan_in_fan_out)."""
    from transformers.pytorch_utils import Conv1D

    targets = spec.target_modules or LORA_TARGETS.get(base.config.model_type)
    names = set(targets or ())
    conv = any(isinstance(m, Conv1D) for n, m in base.named_modules() if n.rsplit(".", 1)[-1] in names)
    return targets, conv


def _write_adapter(
    spec: SoftPromptSpec,
    init: _Init,
    block: ast.ConfigBlock,
    model: str | None,
    portable: str,
    labels: tuple[str, ...] | None,
    staging: Path,
) -> _Built:
    from langgpt.hf import load_model, load_tokenizer, model_kind

    kind = model_kind(_model_config(model))
    task_type = TASK_TYPES[kind]
    if spec.method == "prefix_tuning" and kind == "masked":
        raise DiagnosticError([_method_problem(block, model, "an encoder takes no past keys and values")])
    if spec.method == "prefix_tuning" and kind == "seq2seq" and init.kind != "random":
        raise DiagnosticError(
            [_method_problem(block, model, "a prefix init from tokens is built for causal LMs; use random(seed=N)")]
        )
    tokenizer = load_tokenizer(model)
    init_ids, count, problems = _init_ids(init, tokenizer, spec.tokens, block)

    import torch
    from peft import get_peft_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init.seed)
        if kind == "masked":
            num_labels = len(labels) if labels else 2
            base = load_model(model, "sequence_classification", num_labels=num_labels)
        else:
            num_labels = None
            base = load_model(model, kind)
        base.eval()
        embeddings = base.get_input_embeddings().weight.detach()
        if init.kind == "vocab":
            init_ids = _vocab_ids(tokenizer, embeddings.shape[0], spec.tokens, init.seed)
        targets, fan_in_fan_out = _lora_targets(spec, base) if spec.method == "lora" else (None, False)
        config = _peft_config(spec, task_type, targets, fan_in_fan_out)
        initial = _initial_tensor(spec, init, base, embeddings, init_ids)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            adapted = get_peft_model(base, config)
        if initial is not None:
            weight = adapted.prompt_encoder["default"].embedding.weight
            if weight.shape[0] != initial.shape[0]:  # encoder-decoder: the same prompt for each stack
                initial = initial.repeat(weight.shape[0] // initial.shape[0], 1)
            if weight.shape != initial.shape:
                raise DiagnosticError(
                    [
                        _method_problem(
                            block, model, f"its prompt encoder is {tuple(weight.shape)}, not {tuple(initial.shape)}"
                        )
                    ]
                )
            with torch.no_grad():
                weight.copy_(initial.to(weight.dtype))
        adapted.save_pretrained(str(staging), safe_serialization=True)
    (staging / "README.md").unlink(missing_ok=True)  # PEFT's model card template, with absolute paths
    _portable_config(staging / ADAPTER_CONFIG, portable)
    return _Built(task_type, init_ids, count, tokenizer_info(tokenizer), num_labels, tuple(problems))


def _initial_tensor(spec: SoftPromptSpec, init: _Init, base: Any, embeddings: Any, ids: tuple[int, ...]) -> Any:
    """The prompt encoder's starting weights (tokens x width), or None for LoRA."""
    import torch

    if spec.method == "lora":
        return None
    if spec.method == "prefix_tuning":
        if not ids:
            width = 2 * base.config.num_hidden_layers * embeddings.shape[1]
            return _normal((spec.tokens, width), embeddings, init.seed)
        return prefix_states(base, ids)
    if not ids:
        return _normal((spec.tokens, embeddings.shape[1]), embeddings, init.seed)
    return embeddings[torch.tensor(ids)].clone()


def _normal(shape: tuple[int, int], embeddings: Any, seed: int) -> Any:
    import torch

    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator) * embeddings.float().std()


def prefix_states(base: Any, ids: tuple[int, ...]) -> Any:
    """The model's keys and values for ``ids`` (one forward pass, positions from 0), laid out as
    PEFT's prefix encoder holds them: one row per token, per layer the key then the value."""
    import torch

    with torch.no_grad():
        out = base(input_ids=torch.tensor([ids]), use_cache=True)
    cache = out.past_key_values
    rows = []
    for layer in range(base.config.num_hidden_layers):
        if hasattr(cache, "layers"):
            key, value = cache.layers[layer].keys, cache.layers[layer].values
        else:  # legacy tuple of (key, value) per layer
            key, value = cache[layer]
        for states in (key, value):  # (1, heads, tokens, head_dim) -> (tokens, heads * head_dim)
            rows.append(states[0].permute(1, 0, 2).reshape(len(ids), -1))
    return torch.cat(rows, dim=1).detach().clone()


def _write_config_only(spec: SoftPromptSpec, init: _Init, model: str | None, portable: str, staging: Path) -> _Built:
    """adapter_config.json without loading weights or tokenizer: prompt tuning from text keeps PEFT's
    own TEXT init (PEFT tokenizes when a model is attached), other inits need the compiled weights."""
    import peft

    from langgpt.hf import model_kind

    task_type = TASK_TYPES[model_kind(_model_config(model))]
    targets = spec.target_modules or None
    config = _peft_config(spec, task_type, targets, False)
    if spec.method == "prompt_tuning" and init.rule == "peft_text":
        config.prompt_tuning_init = peft.PromptTuningInit.TEXT
        config.prompt_tuning_init_text = init.text
        config.tokenizer_name_or_path = portable
    elif spec.method == "prompt_tuning" and init.kind == "vocab":
        config.prompt_tuning_init = peft.PromptTuningInit.SAMPLE_VOCAB
    config.base_model_name_or_path = portable
    config.save_pretrained(str(staging))
    _portable_config(staging / ADAPTER_CONFIG, portable)
    return _Built(task_type, (), None, None, None, ())


def _portable_config(path: Path, portable: str) -> None:
    """Rewrite adapter_config.json: the base model and tokenizer as ``portable``, keys sorted."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data["base_model_name_or_path"] = portable
    if data.get("tokenizer_name_or_path"):
        data["tokenizer_name_or_path"] = portable
    if isinstance(data.get("modules_to_save"), list):  # PEFT lists SEQ_CLS heads twice
        data["modules_to_save"] = list(dict.fromkeys(data["modules_to_save"]))
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _method_problem(block: ast.ConfigBlock, model: str | None, why: str) -> Diagnostic:
    setting = next((s for s in block.settings if s.key == "method"), None)
    return Diagnostic(
        "E401",
        f"this soft_prompt cannot be built on `{model or 'minilm'}`: {why}",
        setting.span if setting else block.span,
        "prompt_tuning, p_tuning or lora on an encoder; any method on a causal LM",
    )


# ---------------------------------------------------------------------------------------------------
# output


def _manifest(
    program: Program,
    spec: SoftPromptSpec,
    init: _Init,
    built: _Built,
    portable: str,
    labels: tuple[str, ...] | None,
    config_only: bool,
    staging: Path,
) -> str:
    source = program.sources.get(program.document.path, "")
    weights = staging / ADAPTER_WEIGHTS
    data: dict[str, object] = {
        "langgpt": langgpt.__version__,
        "source": {"path": program.document.path, "sha256": hashlib.sha256(source.encode("utf-8")).hexdigest()},
        "soft_prompt": spec.name,
        "entry": init.argument if init.kind == "text" else None,
        "method": spec.method,
        "peft_type": PEFT_TYPES[spec.method],
        "task_type": built.task_type,
        "tokens": spec.tokens,
        "init": {
            "kind": init.kind,
            "argument": init.argument,
            "seed": init.seed,
            "rule": init.rule,
            "text_file": INIT_TEXT if init.text is not None else None,
            "text_sha256": hashlib.sha256(init.text.encode("utf-8")).hexdigest() if init.text is not None else None,
            "token_count": built.token_count,
            "cut": built.token_count is not None and built.token_count > spec.tokens,
            "ids": list(built.init_ids),
        },
        "model": portable,
        "tokenizer": built.tokenizer,
        "labels": list(labels) if labels and built.task_type == "SEQ_CLS" else None,
        "config_only": config_only,
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest() if weights.exists() else None,
    }
    if spec.method == "lora":
        data["lora"] = {"r": spec.r, "alpha": spec.alpha, "dropout": spec.dropout}
    return dump_json(data)


def _check_replaceable(target: Path) -> None:
    """Only an empty folder or a previous adapter is replaced: never a folder of other files."""
    if not target.exists():
        return
    if not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder")
    names = {p.name for p in target.iterdir()}
    if names and not names & {MANIFEST, ADAPTER_CONFIG}:
        raise UsageError(f"{target} is a folder of other files: give a new or adapter folder")


def _replace(staging: Path, target: Path) -> None:
    """Move the finished folder into place: rename, with the old adapter moved aside first."""
    staging.chmod(0o755)  # mkdtemp makes it private
    if not target.exists():
        staging.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        staging.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
