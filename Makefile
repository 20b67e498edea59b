# churnwatch: every target that needs Python depends on the venv, so a fresh clone needs only
# `make demo` or `make test`. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# make run DATA_DIR=<dir> [DB=<path>] [HORIZON_DAYS=<n>] [ACTIVE_DAYS=<n>]
DATA_DIR ?=
DB ?= churnwatch.duckdb
HORIZON_DAYS ?=
ACTIVE_DAYS ?=
RUN_OPTS = $(if $(HORIZON_DAYS),--horizon-days $(HORIZON_DAYS)) $(if $(ACTIVE_DAYS),--active-days $(ACTIVE_DAYS))

# The demo: the built-in sample shop, generated once into a git-ignored folder.
DEMO_DATA := data/sample
DEMO_DB := data/demo.duckdb
SAMPLE_OPTS ?= --customers 20000 --days 540 --seed 7

.PHONY: help setup demo run test lint format bench clean lock

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-8s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv with the pinned dependencies (a second run does nothing)

$(DEMO_DATA)/orders.parquet: | $(STAMP)
	$(BIN)/churnwatch sample $(SAMPLE_OPTS) --out $(DEMO_DATA)

demo: $(STAMP) $(DEMO_DATA)/orders.parquet ## Run the whole job on the built-in sample shop
	$(BIN)/churnwatch run --data-dir $(DEMO_DATA) --db $(DEMO_DB)
	@echo "Demo database: $(DEMO_DB)"

run: $(STAMP) ## Run the pipeline: make run DATA_DIR=<dir> [DB=..] [HORIZON_DAYS=..] [ACTIVE_DAYS=..]
	@test -n "$(DATA_DIR)" || { echo "usage: make run DATA_DIR=<folder of entity files> [DB=<path>] [HORIZON_DAYS=<n>] [ACTIVE_DAYS=<n>]"; exit 2; }
	$(BIN)/churnwatch run --data-dir $(DATA_DIR) --db $(DB) $(RUN_OPTS)

test: $(STAMP) ## Run the tests: pytest (unit, integration, model) and dbt test
	$(BIN)/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; elif [ $$rc -ne 0 ]; then exit $$rc; fi
	@mkdir -p build
	$(BIN)/churnwatch run --no-train --data-dir tests/data/messy_shop --db build/dbt-test.duckdb
	CHURNWATCH_DB=build/dbt-test.duckdb $(BIN)/dbt test --project-dir dbt_project --profiles-dir . --exclude tag:scoring

lint: $(STAMP) ## ruff, mypy and sqlfluff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/sqlfluff lint dbt_project/models --dialect duckdb --templater jinja || true

format: $(STAMP) ## Format the Python code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## Run the quicker benchmarks (bench/RESULTS.md lists every one and its command)
	$(BIN)/python bench/bench_ingest.py --synthetic-orders 1000000 --format csv
	$(BIN)/python bench/bench_sample.py --sizes 20000
	$(BIN)/python bench/bench_scoring.py --rows 1000000 --features 60 --repeat 3

lock: ## Re-pin requirements.lock from a fresh venv (after editing pyproject.toml)
	rm -rf /tmp/churnwatch-lock && $(PYTHON) -m venv /tmp/churnwatch-lock
	/tmp/churnwatch-lock/bin/pip install --quiet -e '.[dev]'
	/tmp/churnwatch-lock/bin/pip freeze --exclude-editable > requirements.lock

clean: ## Remove the venv, build output and generated data
	rm -rf $(VENV) build data artifacts dbt_project/target dbt_project/logs .pytest_cache .ruff_cache .mypy_cache
