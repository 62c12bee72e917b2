"""Compile targets, one module each. A target turns a checked program plus variable values into bytes.

Text-producing targets (``text``, ``messages``) share the evaluator in ``langgpt.render``; ``ast``
serialises the parsed tree. Targets that need torch or transformers (added later) import them lazily.
"""

from __future__ import annotations

from langgpt.targets import ast_json, messages, text

#: target name -> module with ``compile_target(request) -> str``
TARGETS = {"text": text, "messages": messages, "ast": ast_json}
