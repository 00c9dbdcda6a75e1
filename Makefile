# wirehouse: every target installs what it needs into .venv first, so a fresh clone needs only `make run`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
WAREHOUSE ?= warehouse/news.sqlite
CORPUS ?= ../shared/corpora/fundus
SIZES ?= 10000,100000,1000000
RUNS ?= 300
UI_PORT ?= 4200
DEMO_PORT ?= 8765
UI_DIR := .prefect-ui
# While `make ui` runs, wirehouse commands started by make report to it; otherwise each run starts
# Prefect's temporary server (an empty PREFECT_API_URL means "not set" to wirehouse).
UI_URL = $(shell cat $(UI_DIR)/url 2>/dev/null)

.PHONY: run test lint typecheck check install dev bench bench-quick bench-store bench-scale bench-cluster bench-quality bench-dedup bench-merge bench-warc bench-rawhtml bench-chaos bench-kill bench-soak bench-keyindex ui ui-stop clean help

# Two passes over the targets so that the descriptions line up after the longest name (a tab did not).
help:  ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { name[++n] = $$1; text[n] = $$2; if (length($$1) > w) w = length($$1) } \
		END { for (i = 1; i <= n; i++) printf "%-" w "s  %s\n", name[i], text[i] }' $(MAKEFILE_LIST)

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found (set PYTHON=python3.11 or similar)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip

# -qq: errors only. pip 24+ passes on setuptools' notice for every editable install of a flat layout
# ("Editable installation. Please be careful with folders ..."), which is no fault of the project.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -qq -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -qq -e '.[dev]'
	@touch $(STAMP) $@

install: $(STAMP)  ## create .venv and install wirehouse

dev: $(DEV_STAMP)  ## create .venv with the development tools

run: $(STAMP)  ## the main job: serve the bundled sample newsroom on loopback and ingest it
	PREFECT_API_URL=$(UI_URL) $(BIN)/wirehouse demo --port $(DEMO_PORT) --warehouse $(WAREHOUSE)

ui: $(STAMP)  ## start a local Prefect server (UI at http://127.0.0.1:4200) in the background
	@mkdir -p $(UI_DIR)
	@if [ -f $(UI_DIR)/pid ] && kill -0 $$(cat $(UI_DIR)/pid) 2>/dev/null; then \
		echo "Prefect UI already running: http://127.0.0.1:$(UI_PORT)"; exit 0; fi; \
	PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 PREFECT_UI_ENABLED=true \
		nohup $(BIN)/prefect server start --host 127.0.0.1 --port $(UI_PORT) > $(UI_DIR)/server.log 2>&1 & \
	echo $$! > $(UI_DIR)/pid; \
	for i in $$(seq 1 60); do \
		st=$$(ps -o stat= -p $$(cat $(UI_DIR)/pid) 2>/dev/null); \
		if [ -z "$$st" ] || [ "$${st#Z}" != "$$st" ]; then \
			echo "Prefect server exited: $$(grep -m1 -o 'Port [0-9]* is already in use' $(UI_DIR)/server.log || echo 'see $(UI_DIR)/server.log')"; \
			echo "  another port: make ui UI_PORT=$$(( $(UI_PORT) + 1 ))"; rm -f $(UI_DIR)/pid; exit 1; fi; \
		if $(BIN)/python -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$(UI_PORT)/api/health').status_code != 200)" 2>/dev/null; then \
			echo "http://127.0.0.1:$(UI_PORT)/api" > $(UI_DIR)/url; \
			echo "Prefect UI: http://127.0.0.1:$(UI_PORT)  (make run now reports there;"; \
			echo "  for other commands: export PREFECT_API_URL=http://127.0.0.1:$(UI_PORT)/api)"; exit 0; fi; \
		sleep 1; done; \
	echo "Prefect server did not come up; see $(UI_DIR)/server.log"; exit 1

ui-stop:  ## stop the server started by `make ui`
	@if [ -f $(UI_DIR)/pid ]; then kill $$(cat $(UI_DIR)/pid) 2>/dev/null || true; fi
	@rm -rf $(UI_DIR); echo "Prefect UI stopped"

test: $(DEV_STAMP)  ## the whole test suite (unit, integration, corpus where ../shared exists)
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)  ## mypy
	$(BIN)/mypy flows pipeline tasks warehouse wirehouse core

check: lint typecheck test  ## everything CI cares about

bench: $(DEV_STAMP)  ## speed (vs the limit, the peer and the pre-lake baseline), Dask vs local pool, archive readers, a lake's merge rate (~20 min)
	$(BIN)/python -m bench.speed --corpus $(CORPUS)
	$(BIN)/python -m bench.cluster --corpus $(CORPUS)
	$(BIN)/python -m bench.warc --backfill 4
	$(BIN)/python -m bench.merge --corpus $(CORPUS)

bench-kill: $(DEV_STAMP)  ## the operator's kill trial: 1,030 corpus pages, ingest SIGKILLed 6 times, one clean run, search checked (~5 min)
	$(BIN)/python -m bench.kill_trial

bench-soak: $(DEV_STAMP)  ## 300 consecutive ingests of a newsroom that keeps publishing, maintenance every 96: any upward trend? (~30 min; RUNS=30 for a short one)
	$(BIN)/python -m bench.soak --runs $(RUNS)

bench-keyindex: $(DEV_STAMP)  ## the key index alone: a store's lookups and record per batch at 10k and 1M articles (~10 min, 2 GB of disk)
	$(BIN)/python -m bench.keyindex --sizes 10000,1000000

bench-chaos: $(DEV_STAMP)  ## the chaos tests with 40 kills per catalog (5 in make test): (stage, started, killed, finished) per stage
	CHAOS_KILLS=40 $(BIN)/python -m pytest tests/flows/test_chaos.py -s -q -p no:cacheprovider

bench-quick: $(DEV_STAMP)  ## speed on the 126 corpus pages once, no scale run (~2 min)
	$(BIN)/python -m bench.speed --corpus $(CORPUS) --copies 1 --scale 0

bench-store: $(DEV_STAMP)  ## per-batch store cost by step on a 10k-article lake, this tree against main (~5 min)
	$(BIN)/python -m bench.store --corpus $(CORPUS) --ref main

bench-scale: $(DEV_STAMP)  ## per-batch store, known-URL and story-candidate cost on generated 10k, 100k and 1M lakes (SIZES=10000,100000 for a short run)
	$(BIN)/python -m bench.scale --sizes $(SIZES)

bench-cluster: $(DEV_STAMP)  ## CPU stage pages/s: local 2-process pool vs a 2-worker Dask cluster on this machine (~5 min)
	$(BIN)/python -m bench.cluster --corpus $(CORPUS)

bench-quality: $(DEV_STAMP)  ## extraction quality vs plain trafilatura on ../shared/corpora/fundus and fundus-world, per page and per rule family
	$(BIN)/python -m bench.quality

bench-merge: $(DEV_STAMP)  ## one lake's merge rate (the ceiling of many writers): embedded vs a throwaway PostgreSQL catalog
	$(BIN)/python -m bench.merge --corpus $(CORPUS)

bench-dedup: $(DEV_STAMP)  ## wire-copy grouping: pairwise precision/recall and time at 1,000 and 10,000 articles
	$(BIN)/python -m bench.dedup --corpus $(CORPUS)

bench-warc: $(DEV_STAMP)  ## archive reading: warcio vs fastwarc (and wirehouse's reader) on WARC files of the corpus pages
	$(BIN)/python -m bench.warc

bench-rawhtml: $(DEV_STAMP)  ## raw HTML per page: zlib, zstd levels and dictionaries, in the column and in a lake's Parquet files (~5 min)
	$(BIN)/python -m bench.rawhtml

clean:  ## remove the virtualenv and caches (keeps the warehouse)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
