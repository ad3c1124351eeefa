# Coffre — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export COFFRE_HOME ?= $(CURDIR)/var

.PHONY: run test deps system-deps lint typecheck unit clean

## make run: install what is missing, prepare ./var, start Prefect and serve the flows.
run: deps
	$(BIN)/python -m coffre.serve

## make test: lint, type-check and the whole suite.
test: deps lint typecheck unit

deps: system-deps $(VENV)/.installed

system-deps:
	@bash scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy coffre

# Two workers, one test file each at a time (module fixtures: browser, servers, tokens).
TEST_WORKERS ?= 2
unit:
	$(BIN)/pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=20

clean:
	rm -rf var .venv .mypy_cache .ruff_cache
