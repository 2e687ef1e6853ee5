# Everything runs from the repo's own virtualenv (.venv), created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_DIR := tests/browser

.PHONY: install run serve ingest-samples test test-fast lint format bench bench-full browser-deps langgraph-dev clean

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

langgraph-dev:
	test -x .venv-langgraph/bin/langgraph || ($(PYTHON) -m venv .venv-langgraph && .venv-langgraph/bin/pip install -q torch==2.13.0 && .venv-langgraph/bin/pip install -q -e . "langgraph-cli[inmem]")
	LANGGRAPH_CLI_NO_ANALYTICS=1 .venv-langgraph/bin/langgraph dev --no-browser --no-reload --host 127.0.0.1 --port 2024

clean:
	rm -rf $(VENV) .venv-langgraph data .pytest_cache .mypy_cache .ruff_cache
