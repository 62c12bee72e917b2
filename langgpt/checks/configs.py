"""Verbalizer, soft-prompt and train blocks: settings, label words, and what their inits refer to."""

from __future__ import annotations

from langgpt import ast
from langgpt.config import soft_prompt_spec, train_spec, verbalizer_spec
from langgpt.errors import Diagnostic
from langgpt.loader import Program
from langgpt.scope import lookup


def check(program: Program) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for module in program.modules:
        for block in module.document.configs():
            if block.kind == "verbalizer":
                labels = None
                if block.target is not None:
                    found = lookup(module, block.target)
                    if found is not None and isinstance(found.decl, ast.VarDecl) and found.decl.type.name == "label":
                        labels = found.decl.type.labels
                    elif found is not None and isinstance(found.decl, ast.VarDecl):
                        out.append(
                            Diagnostic(
                                "E404",
                                f"verbalizer target `{block.target}` is not a label variable",
                                block.span,
                                "a variable declared `label {a, b}`",
                            )
                        )
                out.extend(verbalizer_spec(block, labels)[1])
            elif block.kind == "soft_prompt":
                spec, problems = soft_prompt_spec(block)
                out.extend(problems)
                init = spec.init
                if init.kind == "text" and init.argument is not None:
                    found = lookup(module, init.argument)
                    if found is None or not isinstance(found.decl, (ast.Role, ast.Template)):
                        out.append(
                            Diagnostic(
                                "E108",
                                f"`text({init.argument})`: no role or template named `{init.argument}`",
                                block.span,
                                "a role or template of this file",
                            )
                        )
                if init.kind == "labels" and init.argument is not None:
                    found = lookup(module, init.argument)
                    if found is None or not (
                        isinstance(found.decl, ast.ConfigBlock) and found.decl.kind == "verbalizer"
                    ):
                        out.append(
                            Diagnostic(
                                "E108",
                                f"`labels({init.argument})`: no verbalizer named `{init.argument}`",
                                block.span,
                                "a named verbalizer block",
                            )
                        )
            else:
                out.extend(train_spec(block)[1])
    return out
