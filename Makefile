# Everything runs from the repo's own virtualenv (.venv), created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_DIR := tests/browser

.PHONY: install run serve ingest-samples test test-fast lint format bench bench-full browser-deps langgraph-venv langgraph-dev clean

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel on local disk (an unpinned torch pulls a multi-GB CUDA build)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c requirements/constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

ingest-samples: install
	$(BIN)/rag-ingest samples --if-empty

run: ingest-samples
	$(BIN)/rag-serve

serve: install
	$(BIN)/rag-serve

browser-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)
	@test -d $(NODE_DIR)/node_modules/playwright-core || (cd $(NODE_DIR) && npm install --silent --no-audit --no-fund)

test: install browser-deps
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

$(LG_STAMP): requirements/langgraph.txt requirements/langgraph-constraints.txt pyproject.toml
	test -x $(LG_VENV)/bin/python || $(PYTHON) -m venv $(LG_VENV)
	$(LG_VENV)/bin/python -m pip install -q torch==2.13.0
	$(LG_VENV)/bin/python -m pip install -q -c requirements/langgraph-constraints.txt -r requirements/langgraph.txt
	$(LG_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $(LG_STAMP)

langgraph-venv: $(LG_STAMP)

langgraph-dev: $(LG_STAMP)
	LANGGRAPH_CLI_NO_ANALYTICS=1 $(LG_VENV)/bin/langgraph dev --no-browser --no-reload --host 127.0.0.1 --port 2024

clean:
	rm -rf $(VENV) .venv-langgraph data .pytest_cache .mypy_cache .ruff_cache
