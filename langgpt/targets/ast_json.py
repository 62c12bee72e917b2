"""The ``ast`` target: the parsed document as JSON (``Document.model_validate_json`` reads it back)."""

from __future__ import annotations

from langgpt import ast


def compile_document(document: ast.Document) -> str:
    return document.model_dump_json(indent=2) + "\n"
