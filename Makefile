# The two commands of the README:
#   make run   — set up, ingest the bundled sample articles, serve on 127.0.0.1:8000
#   make test  — set up, lint, run the whole test suite (what CI runs)
# Both create .venv themselves and are safe to run again.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build of torch from local disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN := torch==2.13.0

.PHONY: run test lint setup serve clean

run: setup
	$(BIN)/newsdesk ingest samples/articles.jsonl
	$(BIN)/newsdesk serve

test: setup lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

serve: setup
	$(BIN)/newsdesk serve

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
