# wirehouse: every target installs what it needs into .venv first, so a fresh clone needs only `make run`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
WAREHOUSE ?= warehouse/news.duckdb
CORPUS ?= ../shared/corpora/fundus

.PHONY: run test lint typecheck check install dev bench bench-quality bench-dedup clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found (set PYTHON=python3.11 or similar)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP) $@

install: $(STAMP)  ## create .venv and install wirehouse

dev: $(DEV_STAMP)  ## create .venv with the development tools

run: $(STAMP)  ## the main job: serve the bundled sample newsroom on loopback and ingest it
	$(BIN)/wirehouse demo --warehouse $(WAREHOUSE)

test: $(DEV_STAMP)  ## the whole test suite (unit, integration, corpus where ../shared exists)
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)  ## mypy
	$(BIN)/mypy flows tasks warehouse wirehouse

check: lint typecheck test  ## everything CI cares about

bench-quality: $(DEV_STAMP)  ## extraction quality vs plain trafilatura on CORPUS (default ../shared/corpora/fundus)
	$(BIN)/python -m bench.quality --corpus $(CORPUS)

bench-dedup: $(DEV_STAMP)  ## wire-copy grouping: pairwise precision/recall and time at 1,000 and 10,000 articles
	$(BIN)/python -m bench.dedup --corpus $(CORPUS)

clean:  ## remove the virtualenv and caches (keeps the warehouse)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
