# Two commands from a fresh clone (Python 3.11+ and make, nothing else):
#   make run    start the whole system on embedded infrastructure (Ctrl-C stops it)
#   make test   install what is needed and run every test
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The newest Python 3.11+ on PATH (override: make test PYTHON=/path/to/python3.12).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { command -v $$p; break; }; done)
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
# uv uses this machine's Python, never downloads one, and keeps the project env in .venv.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_NO_PROGRESS := 1
PYTEST_ARGS ?=
# Tests run in parallel worker processes, each with its own PostgreSQL and broker: most of a
# test's time is spent waiting on them, so more workers than cores still pays.
TEST_WORKERS ?= 4

.PHONY: help install run stop status test test-fast rehearse lint format schemas bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.11 or newer is required (none found on PATH)" >&2; exit 1; fi
	@echo "Creating the tool environment ($(TOOLS)) with uv $(UV_VERSION) from PyPI, using $(PYTHON)"
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(STAMP): $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml) $(wildcard services/*/pyproject.toml)
	@echo "Installing the workspace into $(VENV) (uv sync, frozen lock, bytecode compiled once)"
	@$(UV) sync --all-packages --frozen --compile-bytecode --python "$(PYTHON)" --quiet
	@touch $@

install: $(STAMP) ## Create .venv with every package of the workspace (idempotent)

run: install ## Start infrastructure, migrate, start the four services; Ctrl-C stops all
	@$(VENV)/bin/mc-dev run

stop: install ## Stop a `make run` started elsewhere
	@$(VENV)/bin/mc-dev stop

status: install ## Is a `make run` up? Which ports?
	@$(VENV)/bin/mc-dev status

test: install lint ## Lint, then every test (unit, contract, integration, end-to-end, deploy) on real infrastructure
	@$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

test-fast: install ## Unit and contract tests only (no broker, no database)
	@$(VENV)/bin/pytest tests/unit tests/contract $(PYTEST_ARGS)

rehearse: install ## Run the production Kubernetes overlay and the Compose file as their manifests say, and the whole story through them (part of `make test`)
	@$(VENV)/bin/pytest tests/deploy $(PYTEST_ARGS)

lint: install ## ruff, formatting, import rules, the service-layer contract, mypy (strict), schemas up to date and compatible
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports --no-cache --no-logo
	@$(VENV)/bin/python -m mc_devstack.service_lint $(wildcard services/*/src)
	@$(VENV)/bin/mypy libs/events/src libs/platform/src libs/devstack/src services/enrollment/src services/review/src services/registry/src services/compensation/src
	@$(VENV)/bin/python -m mc_events.schemas check
	@$(VENV)/bin/python -m mc_events.asyncapi check

format: install ## Apply ruff's fixes and formatting
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

schemas: install ## Regenerate the checked-in JSON Schemas and AsyncAPI document of the events
	@$(VENV)/bin/python -m mc_events.schemas write
	@$(VENV)/bin/python -m mc_events.asyncapi write

bench: install ## Throughput of the backbone (outbox, relay, consumer) and of the whole pipeline, with raw limits; district replay; verification rate
	@$(VENV)/bin/python bench/backbone.py
	@$(VENV)/bin/python bench/pipeline.py $(BENCH_ARGS)
	@$(VENV)/bin/python bench/replay.py $(REPLAY_ARGS)
	@$(VENV)/bin/python bench/verify.py $(VERIFY_ARGS)

.PHONY: chaos demo
BENCH_ARGS ?=
REPLAY_ARGS ?=
VERIFY_ARGS ?=
CHAOS_ARGS ?=
DEMO_ARGS ?=

chaos: install ## 5,000 awards while services, relays and consumers are SIGKILLed 50 times and the database crashes twice; reconcile
	@$(VENV)/bin/python -m mc_devstack.pipeline.chaos $(CHAOS_ARGS)

demo: install ## On top of `make run`: seed a realistic state, drive educators through the flow
	@$(VENV)/bin/python -m mc_devstack.pipeline.demo $(DEMO_ARGS)

clean: ## Remove environments and everything under .run/ (stop `make run` first)
	rm -rf $(VENV) $(TOOLS) .run .pytest_cache .mypy_cache .ruff_cache
