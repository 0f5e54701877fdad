# One task runner for people and CI: `make run`, `make test`, `make lint`, `make bench`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
UI_BUILT := src/runyard/server/static/index.html
UI_SOURCES := $(shell find ui/src -type f 2>/dev/null) ui/index.html ui/vite.config.ts ui/tsconfig.json ui/package-lock.json

.PHONY: venv ui chromium postgres run test lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

ui: $(UI_BUILT)  ## build the web UI (Node >= 20.19) into the package's static folder

$(UI_BUILT): $(UI_SOURCES)
	cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build

chromium:  ## Debian's Chromium, for the browser tests (Playwright drives it)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

postgres:  ## Debian's PostgreSQL, for the throwaway server the tests start when none answers (tests/postgres_server.py)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null)

run: venv ui  ## start `runyard serve` on 127.0.0.1 with a few example runs queued
	bash scripts/run.sh

test: venv ui chromium postgres  ## install what the tests need, then run them all (lint first: it is fast)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	cd ui && npm test --silent
	$(PY) -m pytest -q

lint: venv  ## ruff, mypy, and the layer contracts of docs/ARCHITECTURE.md (import-linter, in pyproject.toml)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: venv ui chromium  ## every benchmark; figures land in benchmarks/results/
	bash benchmarks/run_all.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
