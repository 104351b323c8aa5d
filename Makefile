# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
PORT   ?= $(or $(LEDGER_PORT),8000)
HOST   ?= $(or $(LEDGER_HOST),127.0.0.1)
PYTEST_ARGS ?=

.PHONY: install lock run test lint unit bench clean

# Every package, build tools included, comes from the lock file with its hashes; the
# project itself is installed without resolving anything.
$(STAMP): pyproject.toml $(LOCK)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## Refresh requirements.lock from pyproject.toml (pinned versions with hashes).
lock: install
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --all-build-deps \
	    --extra dev --strip-extras --no-emit-index-url --no-emit-find-links \
	    -o $(LOCK) pyproject.toml

## Start the service on the embedded default (SQLite file under ./var).
run: install
	$(BIN)/ledger init
	$(BIN)/ledger serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

## The unit suite alone: no database (the library's in-memory store, in-memory keys).
unit: install
	$(BIN)/pytest tests/unit -n 0 $(PYTEST_ARGS)

## Lint, type-check and run the whole suite (SQLite and PostgreSQL).
test: lint
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

## Benchmarks: figures next to baselines measured in the same run; writes bench/RESULTS.md.
bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
