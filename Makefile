# GPUBroker - the words people type. Everything runs from a fresh machine: the targets install what they need.
SHELL := /bin/bash
PY ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
RUN := $(VENV)/bin
PORT ?= 3000
SAM_VENV := .venv-sam
SAM_PY ?= $(shell command -v python3.12 2>/dev/null || ls /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | head -1)

.PHONY: dev test lint typecheck cfn-lint sam-validate unit bench build deploy ingest layers-deps clean venv

$(UV):
	@$(PY) -m pip --version >/dev/null 2>&1 || { echo "pip is missing: install python3-pip"; exit 1; }
	$(PY) -m pip install --quiet --target .tools/lib uv && mkdir -p .tools/bin && \
	  printf '#!/bin/sh\nPYTHONPATH=%s/.tools/lib exec %s -m uv "$$@"\n' "$(CURDIR)" "$(PY)" > .tools/bin/uv && chmod +x .tools/bin/uv

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PY)
	@touch $@

venv: $(VENV)/.synced

## make dev: the whole application on 127.0.0.1:$(PORT), seeded from ../shared/data/catalogs
dev: venv
	$(RUN)/python -m infra.local --port $(PORT)

## make ingest CATALOG=path/to/vms.csv PROVIDER=name: one more catalog into the running local stack
ingest: venv
	@test -n "$(CATALOG)" -a -n "$(PROVIDER)" || { echo "usage: make ingest CATALOG=<vms.csv> PROVIDER=<name>"; exit 2; }
	@$(RUN)/python -m infra.local.ingest --catalog "$(CATALOG)" --provider "$(PROVIDER)"

lint: venv
	$(RUN)/ruff check .
	$(RUN)/ruff format --check .

typecheck: venv
	$(RUN)/mypy layers/core layers/math functions infra tests

cfn-lint: venv
	$(RUN)/cfn-lint template.yaml

## make test: lint, types, template, and the whole pytest suite (unit, component, integration, contract, e2e)
test: lint typecheck cfn-lint
	$(RUN)/pytest -n 2 --dist loadgroup

bench: venv
	@for b in tests/bench/bench_*.py; do echo "== $$b"; $(RUN)/python $$b || exit 1; done

layers-deps: venv
	$(UV) export --frozen --no-dev --no-hashes --no-emit-project --no-header | grep -v '^numpy==' > layers/deps/requirements.txt

$(SAM_VENV)/bin/sam:
	@test -n "$(SAM_PY)" || { echo "sam build needs python3.12 (the Lambda runtime) on PATH"; exit 1; }
	$(UV) venv --python $(SAM_PY) $(SAM_VENV) && $(UV) pip install --python $(SAM_VENV)/bin/python aws-sam-cli

sam-validate: $(SAM_VENV)/bin/sam
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1

build: $(SAM_VENV)/bin/sam
	PATH="$(dir $(SAM_PY)):$$PATH" $(SAM_VENV)/bin/sam build

deploy: build
	$(SAM_VENV)/bin/sam deploy --config-env $(or $(ENV),dev)

clean:
	rm -rf .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
