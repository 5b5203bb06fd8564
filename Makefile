# ZakiPost — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
RUN := $(VENV)/bin

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --python $(PYTHON)
	touch $@

.PHONY: install
install: $(VENV)/.synced ## Create or update the virtual environment in .venv

.PHONY: run
run: install ## Run ZakiPost (web + worker + the TikTok sandbox) on http://127.0.0.1:8000
	$(RUN)/zakipost serve

.PHONY: test
test: install ## Run the test suite (PostgreSQL too when ZAKIPOST_TEST_DATABASE_URL is set)
	$(RUN)/pytest

.PHONY: lint
lint: install ## ruff check and format check
	$(RUN)/ruff check zakipost tests bench
	$(RUN)/ruff format --check zakipost tests bench

.PHONY: types
types: install ## mypy
	$(RUN)/mypy

.PHONY: format
format: install ## Format the code
	$(RUN)/ruff format zakipost tests bench
	$(RUN)/ruff check --fix zakipost tests bench

.PHONY: migrate
migrate: install ## Upgrade the database schema
	$(RUN)/zakipost migrate

.PHONY: sandbox
sandbox: install ## Run the TikTok sandbox alone on port 9000
	$(RUN)/zakipost sandbox --port 9000

.PHONY: bench
bench: install ## Benchmarks, printed side by side with their baselines
	$(RUN)/python -m bench
