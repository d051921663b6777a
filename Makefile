# Axiom — every target creates what it needs (.venv included); `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
UNIVERSE ?= all
YEARS ?= 5
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

.PHONY: help setup demo test unit lint bench clean services-up services-down services-status airflow airflow-up airflow-down bench-stack

help: ## list every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --extra stack --extra airflow --extra llm --extra ray --compile-bytecode
	@touch $@

setup: $(VENV)/.synced ## create .venv with the locked dependencies

demo: setup ## run every pipeline over the full universe on the embedded backends
	$(BIN)/axiom demo --universe "$(UNIVERSE)" --years $(YEARS)

lint: setup ## ruff, formatting, mypy --strict and the import-cycle check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m axiom.devtools.import_cycles src/axiom

services-up: ## install (first time) and start PostgreSQL, Redis, Kafka, Neo4j, Chroma on 127.0.0.1
	deploy/local/services.sh up

services-down: ## stop the local servers (their data stays in .services/)
	deploy/local/services.sh down

services-status: ## which local servers are running
	deploy/local/services.sh status

airflow: airflow-up ## the same as airflow-up

airflow-up: setup ## start Airflow 3 (UI http://127.0.0.1:8080, admin/admin) with the consumers
	deploy/local/airflow.sh start

airflow-down: ## stop the local Airflow
	deploy/local/airflow.sh stop

unit: setup ## the fast tier only (no servers)
	$(BIN)/pytest -q tests/unit

test: lint services-up ## lint, start the local servers, then every test tier
	$(BIN)/pytest -q -p no:cacheprovider tests

bench: setup ## benchmarks; results go to docs/benchmarks.md by hand
	$(BIN)/python bench/e2e.py
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/agent.py

bench-stack: setup services-up ## the same on the local servers, plus each server's own benchmark
	$(BIN)/python bench/e2e.py --stack
	$(BIN)/python bench/kafka.py
	$(BIN)/python bench/warehouse_postgres.py
	$(BIN)/python bench/graph_neo4j.py
	$(BIN)/python bench/cache_redis.py

clean: ## remove .venv, tool cache and embedded state
	rm -rf $(VENV) $(TOOLS) .axiom .services .pytest_cache .mypy_cache .ruff_cache
