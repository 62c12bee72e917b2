"""Token budgets: compile within ``max_tokens`` counted with a real tokenizer.

When the prompt is too long, what may give way is declared in the source:

1. few-shot shots are dropped, lowest ``priority`` example set first, last shot of a set first;
2. then text variables declared ``truncate tail`` / ``truncate head`` are cut, token by token, at that
   end (in declaration order, each as much as needed);

and the result is checked again after every step, so it never exceeds the budget. If nothing more may
give way and it is still too long, that is an error (E407) saying by how much. What was dropped or
cut is reported. Messages are counted through the tokenizer's chat template when it has one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from langgpt import ast
from langgpt.compiler import check, render
from langgpt.errors import Diagnostic, DiagnosticError
from langgpt.loader import Program
from langgpt.records import Record
from langgpt.render import RenderedRole, RenderedTemplate
from langgpt.targets import rendered_target
from langgpt.types import VarValue


class BudgetResult(Record):
    output: str
    tokens: int
    max_tokens: int
    dropped: tuple[str, ...]  # what gave way, in order, for the report
    warnings: tuple[Diagnostic, ...] = ()


def compile_within(
    program: Program,
    max_tokens: int,
    tokenizer: Any,
    *,
    target: str = "text",
    variables: dict[str, VarValue] | None = None,
    entry: str | None = None,
    cli_values: frozenset[str] = frozenset(),
) -> BudgetResult:
    """Compile ``entry`` to ``target`` (text or messages) in at most ``max_tokens`` tokens."""
    diagnostics = check(program)
    if any(d.is_error for d in diagnostics):
        raise DiagnosticError(diagnostics)
    values = dict(variables or {})
    count = _counter(tokenizer, target)
    limits: dict[str, int] = {}
    dropped: list[str] = []

    def attempt() -> tuple[str, int]:
        rendered = render(program, values, entry=entry, cli_values=cli_values, shot_limits=limits)
        output = rendered_target(target)(rendered)
        return output, count(rendered, output)

    output, tokens = attempt()
    for examples in _by_priority(program):
        if tokens <= max_tokens:
            break
        total = len(_shots(program, examples, values, entry, cli_values))
        kept = total
        while tokens > max_tokens and kept > 0:
            kept -= 1
            limits[examples.name] = kept
            before = tokens
            output, tokens = attempt()
            if kept == total - 1 and tokens == before:  # the entry does not use this set
                del limits[examples.name]
                kept = total
                break
        if kept < total:
            dropped.append(
                f"dropped {total - kept} of {total} shot(s) of `{examples.name}` (priority {examples.priority})"
            )
    for var in _truncatable(program):
        if tokens <= max_tokens:
            break
        original = values.get(var.name, _default(var))
        if not isinstance(original, str) or not original:
            continue
        ids = tokenizer(original, add_special_tokens=False)["input_ids"]
        low, high, best = 0, len(ids), None
        while low <= high:  # the longest cut that fits: each try is a full render and count
            middle = (low + high) // 2
            values[var.name] = _cut(tokenizer, ids, middle, var.truncate or "tail")
            candidate, candidate_tokens = attempt()
            if candidate_tokens <= max_tokens:
                best, low = (middle, candidate, candidate_tokens), middle + 1
            else:
                high = middle - 1
        if best is None:
            values[var.name] = _cut(tokenizer, ids, 0, var.truncate or "tail")
            output, tokens = attempt()
            dropped.append(f"cut `{var.name}` to nothing ({len(ids)} tokens, {var.truncate})")
            continue
        kept_tokens, output, tokens = best
        values[var.name] = _cut(tokenizer, ids, kept_tokens, var.truncate or "tail")
        if kept_tokens < len(ids):
            dropped.append(f"cut `{var.name}` from {len(ids)} to {kept_tokens} tokens at its {var.truncate}")
    if tokens > max_tokens:
        hint = "declare `priority` on example sets and `truncate head|tail` on long text variables, or raise the budget"
        raise DiagnosticError(
            [
                Diagnostic(
                    "E407",
                    f"the prompt needs {tokens} tokens even after dropping what may give way; the budget is {max_tokens}",
                    None,
                    f"at most {max_tokens} tokens",
                    hint,
                )
            ]
        )
    return BudgetResult(output, tokens, max_tokens, tuple(dropped), tuple(diagnostics))


def _counter(tokenizer: Any, target: str) -> Callable[[RenderedRole | RenderedTemplate, str], int]:
    def count(rendered: RenderedRole | RenderedTemplate, output: str) -> int:
        if target == "messages" and getattr(tokenizer, "chat_template", None):
            messages = json.loads(output)
            ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
            ids = ids["input_ids"] if hasattr(ids, "keys") else ids
            return len(ids)
        if target == "messages":
            output = "\n\n".join(m["content"] for m in json.loads(output))
        return len(tokenizer(output, add_special_tokens=True)["input_ids"])

    return count


def _by_priority(program: Program) -> list[ast.Examples]:
    sets = [e for m in program.modules for e in m.document.example_sets()]
    return sorted(sets, key=lambda e: e.priority)  # stable: declaration order within a priority


def _shots(
    program: Program, examples: ast.Examples, values: dict[str, VarValue], entry: str | None, cli_values: frozenset[str]
) -> list[Any]:
    from langgpt.render import Context, Renderer

    module = next(m for m in program.modules if examples in m.document.example_sets())
    return Renderer(Context(program, values, from_cli=cli_values)).shot_rows(module, examples)


def _truncatable(program: Program) -> list[ast.VarDecl]:
    return [v for v in program.main.document.variables() if v.truncate is not None and v.type.name == "text"]


def _default(var: ast.VarDecl) -> VarValue:
    return var.default.value if isinstance(var.default, ast.StrValue) else None


def _cut(tokenizer: Any, ids: list[int], keep: int, policy: str) -> str:
    kept = ids[:keep] if policy == "tail" else ids[len(ids) - keep :]
    text: str = tokenizer.decode(kept, skip_special_tokens=True) if kept else ""
    return text
