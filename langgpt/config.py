"""Typed settings of the `verbalizer`, `soft_prompt` and `train` blocks.

The grammar reads these blocks as generic ``key: value`` settings; this module gives them meaning:
each block becomes a spec record, and every problem (an unknown setting, a value of the wrong kind,
a label without words, a word shared by two labels ...) is a diagnostic with the setting's position.
``lgpt check`` runs these checks without loading any model; the training targets use the specs.
"""

from __future__ import annotations

from langgpt import ast
from langgpt.errors import Diagnostic
from langgpt.records import Record

MULTI_TOKEN = ("first", "mean", "all")
METHODS = ("prompt_tuning", "prefix_tuning", "p_tuning", "lora")
TRAIN_METHODS = ("full", "lora", "prompt_tuning", "prefix_tuning", "p_tuning", "bitfit")
TASKS = ("classify", "ner", "generate")
INITS = ("text", "labels", "words", "vocab", "random")


class VerbalizerSpec(Record):
    name: str | None
    target: str | None  # the label variable (`for label`)
    labels: tuple[tuple[str, tuple[str, ...]], ...]  # label -> label words, in declaration order
    multi_token: str = "first"
    span: ast.Span | None = None

    def words(self) -> dict[str, tuple[str, ...]]:
        return dict(self.labels)


class InitSpec(Record):
    kind: str  # text | labels | words | vocab | random
    argument: str | None = None  # the role/template for text(), verbalizer for labels(), words for words()
    seed: int = 0


class SoftPromptSpec(Record):
    name: str | None
    method: str = "prompt_tuning"
    tokens: int = 20
    init: InitSpec = InitSpec("random")
    encoder: str = "mlp"  # P-tuning's prompt encoder: mlp | lstm
    r: int = 8  # LoRA rank
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ()
    span: ast.Span | None = None


class TrainSpec(Record):
    model: str | None = None
    method: str = "lora"
    task: str = "classify"
    epochs: float = 3.0
    lr: float = 5e-4
    batch_size: int = 16
    seed: int = 13
    max_length: int = 128
    metrics: tuple[str, ...] = ()
    span: ast.Span | None = None


def _value(value: ast.Value) -> object:
    if isinstance(value, (ast.StrValue, ast.NumValue, ast.BoolValue)):
        return value.value
    if isinstance(value, ast.NameRef):
        return value.name
    if isinstance(value, ast.ListValue):
        return [_value(v) for v in value.items]
    return value


def _bad(setting: ast.Setting, message: str, expected: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic("E401", message, setting.span, expected, hint)


def verbalizer_spec(
    block: ast.ConfigBlock, label_names: tuple[str, ...] | None
) -> tuple[VerbalizerSpec, list[Diagnostic]]:
    """A verbalizer block's label words; ``label_names`` are the labels of its `for` variable."""
    problems: list[Diagnostic] = []
    labels: list[tuple[str, tuple[str, ...]]] = []
    multi = "first"
    owner: dict[str, str] = {}
    for setting in block.settings:
        if setting.key == "multi_token":
            value = _value(setting.values[0]) if len(setting.values) == 1 else None
            if value not in MULTI_TOKEN:
                problems.append(_bad(setting, "`multi_token` takes first, mean or all", "first | mean | all"))
            else:
                multi = str(value)
            continue
        words = [v.value for v in setting.values if isinstance(v, ast.StrValue)]
        if len(words) != len(setting.values):
            problems.append(_bad(setting, f"label words of `{setting.key}` must be strings", '"word", "another word"'))
        if not [w for w in words if w.strip()]:
            problems.append(
                Diagnostic(
                    "E402",
                    f"label `{setting.key}` has no label words",
                    setting.span,
                    'one or more words: negative: "bad", "terrible"',
                )
            )
        for word in words:
            if word in owner and owner[word] != setting.key:
                problems.append(
                    Diagnostic(
                        "E403",
                        f"label word {word!r} is used by both `{owner[word]}` and `{setting.key}`",
                        setting.span,
                        "each word for one label only",
                        "the model could not tell the labels apart",
                    )
                )
            owner.setdefault(word, setting.key)
        labels.append((setting.key, tuple(words)))
    if label_names is not None:
        declared = set(label_names)
        given = {name for name, _ in labels}
        if declared != given:
            missing = ", ".join(sorted(declared - given)) or "none"
            extra = ", ".join(sorted(given - declared)) or "none"
            problems.append(
                Diagnostic(
                    "E404",
                    f"verbalizer labels differ from `{block.target}`'s labels (missing: {missing}; not declared: {extra})",
                    block.span,
                    f"words for exactly: {', '.join(label_names)}",
                )
            )
        order = {name: i for i, name in enumerate(label_names)}
        labels.sort(key=lambda pair: order.get(pair[0], len(order)))
    spec = VerbalizerSpec(block.name, block.target, tuple(labels), multi, block.span)
    return spec, problems


def soft_prompt_spec(block: ast.ConfigBlock) -> tuple[SoftPromptSpec, list[Diagnostic]]:
    problems: list[Diagnostic] = []
    fields: dict[str, object] = {"name": block.name, "span": block.span}
    for setting in block.settings:
        key, values = setting.key, setting.values
        value = _value(values[0]) if values else None
        if key == "method":
            if value not in METHODS:
                problems.append(_bad(setting, f"unknown soft-prompt method `{value}`", " | ".join(METHODS)))
            fields["method"] = value
        elif key in ("tokens", "r", "alpha"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(_bad(setting, f"`{key}` takes a whole number, 1 or more", "e.g. 20"))
            else:
                fields[key] = value
        elif key == "dropout":
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= float(value) < 1:
                problems.append(_bad(setting, "`dropout` takes a number in [0, 1)", "e.g. 0.1"))
            else:
                fields[key] = float(value)
        elif key == "encoder":
            if value not in ("mlp", "lstm"):
                problems.append(_bad(setting, "`encoder` takes mlp or lstm", "mlp | lstm"))
            else:
                fields[key] = value
        elif key == "target_modules":
            names = value if isinstance(value, list) else [_value(v) for v in values]
            fields[key] = tuple(str(n) for n in names)
        elif key == "init":
            init, problem = _init(setting)
            if problem:
                problems.append(problem)
            else:
                fields["init"] = init
        else:
            problems.append(
                _bad(
                    setting,
                    f"unknown soft_prompt setting `{key}`",
                    "method, tokens, init, encoder, r, alpha, dropout, target_modules",
                )
            )
    return SoftPromptSpec(**fields), problems  # type: ignore[arg-type]


def _init(setting: ast.Setting) -> tuple[InitSpec | None, Diagnostic | None]:
    value = setting.values[0] if setting.values else None
    expected = 'text(Role), labels(verbalizer), words("..."), vocab(seed=1) or random(seed=1)'
    if isinstance(value, ast.NameRef) and value.name in ("vocab", "random"):
        return InitSpec(value.name), None
    if not isinstance(value, ast.CallValue) or value.func not in INITS:
        return None, _bad(setting, "unknown soft-prompt init", expected)
    seed, argument = 0, None
    for arg in value.args:
        if arg.name == "seed" and isinstance(arg.value, ast.NumValue) and isinstance(arg.value.value, int):
            seed = arg.value.value
        elif arg.name is None and isinstance(arg.value, (ast.NameRef, ast.StrValue)):
            argument = arg.value.name if isinstance(arg.value, ast.NameRef) else arg.value.value
        else:
            return None, _bad(setting, f"unexpected argument in `{value.func}(...)`", expected)
    if value.func in ("text", "labels", "words") and argument is None:
        return None, _bad(setting, f"`{value.func}(...)` needs an argument", expected)
    return InitSpec(value.func, argument, seed), None


def train_spec(block: ast.ConfigBlock) -> tuple[TrainSpec, list[Diagnostic]]:
    problems: list[Diagnostic] = []
    fields: dict[str, object] = {"span": block.span}
    numbers = {"epochs": float, "lr": float, "batch_size": int, "seed": int, "max_length": int}
    for setting in block.settings:
        key = setting.key
        value = _value(setting.values[0]) if setting.values else None
        if key == "model":
            fields[key] = str(value)
        elif key == "method":
            if value not in TRAIN_METHODS:
                problems.append(_bad(setting, f"unknown training method `{value}`", " | ".join(TRAIN_METHODS)))
            fields[key] = value
        elif key == "task":
            if value not in TASKS:
                problems.append(_bad(setting, f"unknown task `{value}`", " | ".join(TASKS)))
            fields[key] = value
        elif key in numbers:
            kind = numbers[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (kind is int and not isinstance(value, int))
                or value <= 0
            ):
                problems.append(
                    _bad(setting, f"`{key}` takes a positive {'whole ' if kind is int else ''}number", "e.g. 3")
                )
            else:
                fields[key] = kind(value)
        elif key == "metrics":
            names = value if isinstance(value, list) else [_value(v) for v in setting.values]
            fields[key] = tuple(str(n) for n in names)
        else:
            # later runtime settings (warmup, checkpoints ...) are accepted and passed through as they come
            continue
    return TrainSpec(**fields), problems  # type: ignore[arg-type]
