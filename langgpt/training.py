"""The Python front door of the training targets: compile verbalizers and soft prompts for a model.

    from langgpt.training import compile_verbalizer, compile_peft, load_adapter
    verbalizer = compile_verbalizer("prompts/sentiment.lgpt", model="minilm")
    print(verbalizer.output)                                   # label -> words -> token ids, as JSON
    adapter = compile_peft("prompts/sentiment.lgpt", model="minilm", output="out/sentiment-prompt")
    model = load_adapter(base_model, adapter.output, trainable=True)  # continue training from it

A thin module of functions: each lives in its target module and is re-exported here. Importing this
module is light; torch, transformers and peft are imported only when a function runs.
"""

from __future__ import annotations

from langgpt.targets.dataset import DatasetResult, compile_dataset
from langgpt.targets.peft import PeftResult, compile_peft, load_adapter
from langgpt.targets.verbalizer import VerbalizerResult, compile_verbalizer

__all__ = [
    "DatasetResult",
    "PeftResult",
    "VerbalizerResult",
    "compile_dataset",
    "compile_peft",
    "compile_verbalizer",
    "load_adapter",
]
