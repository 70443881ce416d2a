# Two commands on a fresh machine: `make run` and `make test` (README).
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
LINT_PATHS := app tests alembic/env.py bench

.PHONY: install lock run migrate test lint typecheck pytest openapi format clean bench soak

# Installs come from the hashed locks (requirements*.lock, written by `make lock` from
# pyproject.toml), with pip alone: the same versions and files on every machine.
RUNTIME_LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
# uv writes the locks (`make lock` installs this version into the venv); nothing else needs it.
UV_VERSION := 0.13.9
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command "make lock"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required (python3.11 not found)"; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml $(DEV_LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

# Resolve pyproject.toml into both locks: the runtime's (the Dockerfile) and the runtime's
# plus dev (make install), the second held to the first's versions. Versions already locked
# stay while pyproject.toml allows them; `make lock UPGRADE=1` takes the newest it allows.
# Commit both files; `make install` then installs what changed.
UPGRADE ?=
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) \
		-o $(RUNTIME_LOCK)
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) \
		-c $(RUNTIME_LOCK) -o $(DEV_LOCK)

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
