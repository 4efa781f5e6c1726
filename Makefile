# Trunkline developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,voice]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install the project with its dev tools and voice engines

sysdeps: ## install the system packages tests need (PostgreSQL server, wrk, espeak-ng, sox) when missing
	@bash scripts/sysdeps.sh

run: venv ## start the gateway (SQLite under ./data, flows from ./ivr_flows, LiveKit optional)
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

.PHONY: help venv sysdeps run test lint fmt typecheck bench clean
