# Two commands on a fresh machine: `make run` and `make test` (README).
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
LINT_PATHS := app tests alembic/env.py bench

.PHONY: install run migrate test lint typecheck pytest openapi format clean bench soak

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required (python3.11 not found)"; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/alembic upgrade head

run: migrate
	$(BIN)/uvicorn --factory app.main:serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: install
	$(BIN)/mypy app tests bench

pytest: install
	$(BIN)/pytest

# Lint, type-check, then the whole suite on SQLite and on PostgreSQL (skipped, and
# said so, when no PostgreSQL is reachable; a failure under CI=true).
test: lint typecheck pytest

format: install
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

# The benchmark (BENCHMARKS.md): seeds its own databases (PostgreSQL database msp_bench at
# MSP_BENCH_POSTGRES_URL, SQLite files under /tmp/msp_bench), serves them with uvicorn and
# prints every figure. BACKEND=postgresql|sqlite|both; without a PostgreSQL it benches
# SQLite alone and says so.
SIZE ?= M
BACKEND ?= both
bench: install
	$(BIN)/python -m bench.run --size $(SIZE) --backend $(BACKEND)

# The soak (BENCHMARKS.md): SOAK_SECONDS of mixed load, invoices of the audited month
# arriving while audits and reports run; fails on any 5xx or any invoice lost or extra.
SOAK_SECONDS ?= 60
soak: install
	$(BIN)/python -m bench.soak --size S --seconds $(SOAK_SECONDS) --backend $(BACKEND)

openapi: install
	$(BIN)/python -m app.openapi > openapi/openapi.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
