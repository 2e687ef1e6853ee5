# Everything runs from the repo's own virtualenv (.venv), created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_DIR := tests/browser
JS_CLIENT_DIR := tests/clients/js
# llama.cpp CPU target: portable (default, any x86-64 with AVX2/FMA/F16C) or avx512 (opt-in, see README)
LLAMA_CPU ?= portable
LLAMA_WHEEL := scripts/llama-wheel.sh

.PHONY: llama-rebuild llama-avx512 llama-info install run serve ingest-samples test test-fast lint format bench bench-full browser-deps client-deps langgraph-venv langgraph-dev clean

$(STAMP): pyproject.toml requirements/constraints.txt $(LLAMA_WHEEL)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel on local disk (an unpinned torch pulls a multi-GB CUDA build)
	$(BIN)/python -m pip install -q torch==2.13.0
	# llama-cpp-python before the rest, from a wheel built for an explicit CPU target (never native,
	# never from pip's cache): the rest of the install then finds it satisfied and leaves it alone
	$(LLAMA_WHEEL) $(BIN)/python $(LLAMA_CPU)
	$(BIN)/python -m pip install -q -c requirements/constraints.txt -e '.[ingest,dev]'
	$(BIN)/python -m rag_chain.llama_build --check
	touch $(STAMP)

install: $(STAMP)

# Rebuild llama.cpp for the portable target even if a wheel exists (the fix /ready names when the
# model worker cannot load).
llama-rebuild: install
	$(LLAMA_WHEEL) $(BIN)/python portable --rebuild
	$(BIN)/python -m rag_chain.llama_build --check

# Opt-in: AVX-512 kernels (AMX stays off). Only for machines that have AVX-512; see README.
llama-avx512: install
	$(LLAMA_WHEEL) $(BIN)/python avx512
	$(BIN)/python -m rag_chain.llama_build --check

llama-info: install
	$(BIN)/python -m rag_chain.llama_build

ingest-samples: install
	$(BIN)/rag-ingest samples --if-empty

run: ingest-samples
	$(BIN)/rag-serve

serve: install
	$(BIN)/rag-serve

browser-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)
	@test -d $(NODE_DIR)/node_modules/playwright-core || (cd $(NODE_DIR) && npm install --silent --no-audit --no-fund)

# LangChain.js RemoteRunnable for tests/clients (exact versions from its package-lock.json)
client-deps:
	@test -d $(JS_CLIENT_DIR)/node_modules/@langchain/core || (cd $(JS_CLIENT_DIR) && npm ci --silent --no-audit --no-fund)

test: install browser-deps client-deps
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not browser"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench

bench-full: install
	$(BIN)/python -m bench --full

# `langgraph dev` needs sse-starlette 3.x, langserve pins <2: it gets its own venv with only what the
# graphs import (requirements/langgraph.txt) and the project installed without its server deps.
LG_VENV := .venv-langgraph
LG_STAMP := $(LG_VENV)/.installed

$(LG_STAMP): requirements/langgraph.txt requirements/langgraph-constraints.txt pyproject.toml $(LLAMA_WHEEL)
	test -x $(LG_VENV)/bin/python || $(PYTHON) -m venv $(LG_VENV)
	$(LG_VENV)/bin/python -m pip install -q torch==2.13.0
	$(LLAMA_WHEEL) $(LG_VENV)/bin/python $(LLAMA_CPU)
	$(LG_VENV)/bin/python -m pip install -q -c requirements/langgraph-constraints.txt -r requirements/langgraph.txt
	$(LG_VENV)/bin/python -m pip install -q --no-deps -e .
	$(LG_VENV)/bin/python -m rag_chain.llama_build --check
	touch $(LG_STAMP)

langgraph-venv: $(LG_STAMP)

langgraph-dev: $(LG_STAMP)
	LANGGRAPH_CLI_NO_ANALYTICS=1 $(LG_VENV)/bin/langgraph dev --no-browser --no-reload --host 127.0.0.1 --port 2024

clean:
	rm -rf $(VENV) .venv-langgraph data .pytest_cache .mypy_cache .ruff_cache
