# Every target here is what CI and developers run; .ci/run calls `make test`.
SHELL := /bin/bash
PYTHON ?= python3
# The machine's uv if it has one, else one installed from PyPI into .tools/.
UV ?= $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen

.PHONY: help install run test lint format typecheck proto proto-check unit integration e2e chromium bench bench-crm bench-export bench-import clean

help:
	@echo "make run    - run the whole platform on embedded PostgreSQL and NATS"
	@echo "make test   - lint, type check and every test tier (needs PostgreSQL, Redis, NATS)"
	@echo "make lint   - ruff check, ruff format --check and mypy"
	@echo "make proto  - regenerate libs/contracts from protos/"
	@echo "make bench  - the gateway benchmark (bench/gateway; needs PostgreSQL, Redis, NATS)"
	@echo "make bench-crm - contact list/search latency at 100k contacts (bench/crm; same needs)"
	@echo "make bench-export - CSV export vs COPY at 100k and 1M contacts (bench/export; PostgreSQL)"
	@echo "make bench-import - CSV import of 1M contacts vs raw COPY (bench/import; same needs)"

# uv from PyPI when the machine has none: only Python 3.11+ and pip are assumed.
$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m pip install --quiet --target $(CURDIR)/.tools/uv-pkg "uv>=0.9,<0.14"
	mkdir -p $(CURDIR)/.tools/bin && ln -sf ../uv-pkg/bin/uv $(CURDIR)/.tools/bin/uv

install: $(UV)
	$(UV) sync --frozen --all-packages

run: install
	$(RUN) python -m crm_devstack

proto: install
	$(RUN) python -m crm_devstack.protogen

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

format: install
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

unit: install
	$(RUN) pytest -m unit

integration: install
	$(RUN) pytest -m integration

# Debian's chromium for the capture-form e2e tests (apt-get, when it is missing).
chromium:
	bash .ci/ensure-chromium

e2e: install chromium
	$(RUN) pytest -m e2e

bench: install
	$(RUN) python -m bench.gateway

bench-crm: install
	$(RUN) python -m bench.crm

bench-export: install
	$(RUN) python -m bench.export

# bench/import: `python -m` imports it by name, so the keyword is no obstacle; --rows N through ARGS="--rows N".
bench-import: install
	$(RUN) python -m bench.import $(ARGS)

test: lint chromium
	$(RUN) pytest

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache
