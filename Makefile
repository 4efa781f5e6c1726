# Trunkline developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Extras `make test` (and the dev tools) install on top of the project, comma-separated (e.g. dev,voice).
TEST_EXTRAS := dev,voice
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.DEFAULT_GOAL := help

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Running the gateway needs the project only; the dev tools (mypy, ruff, schemathesis, pytest) come with tests.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[$(TEST_EXTRAS)]'
	@touch $@ $(RUN_STAMP)

venv-run: $(RUN_STAMP) ## create .venv with the project only (what `make run` needs)

venv: $(TEST_STAMP) ## create .venv and install the project with its dev tools and test extras

sysdeps: ## install the system packages tests need (PostgreSQL server, wrk, espeak-ng, sox) when missing
	@bash scripts/sysdeps.sh

run: venv-run ## start the gateway (SQLite under ./data, flows from ./ivr_flows, LiveKit optional)
	$(BIN)/trunkline serve

test: venv sysdeps lint typecheck ## the whole suite: lint, types, unit and integration tests on SQLite and PostgreSQL
	$(BIN)/pytest -q -p no:cacheprovider

lint: venv ## ruff lint and format check, import layers (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

fmt: venv ## format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: venv ## mypy --strict on gateway/ and routing/
	$(BIN)/mypy

bench: venv sysdeps ## run every benchmark in benchmarks/ (each ends with one JSON line)
	@set -e; for b in benchmarks/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean: ## remove the virtualenv, caches and local data
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache data

.PHONY: help venv venv-run sysdeps run test lint fmt typecheck bench clean
