# mlcost: the few verbs, the same locally and in CI. Everything installs into .venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FIXTURES := fixtures/generated
HOME_DIR := $(CURDIR)/data
export MLCOST_HOME ?= $(HOME_DIR)
export DAGSTER_HOME ?= $(HOME_DIR)/dagster_home
# The demo's sources: the model company's CUR 2.0 export, GPU logs and prediction counts.
export MLCOST_CUR_SOURCE ?= $(CURDIR)/$(FIXTURES)/cur2
export MLCOST_GPU_SOURCE ?= $(CURDIR)/$(FIXTURES)/gpu
export MLCOST_PREDICTIONS_SOURCE ?= $(CURDIR)/$(FIXTURES)/predictions

.PHONY: setup demo test ui lint fixtures bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(FIXTURES)/answers.json: $(STAMP) $(wildcard fixtures/model_company/*.py)
	$(BIN)/mlcost fixtures --out $(FIXTURES)

fixtures: $(FIXTURES)/answers.json

demo: fixtures
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/mlcost run

test: $(STAMP)
	$(BIN)/pytest -q

ui: $(STAMP)
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/python -m pipelines.orchestration.instance_config "$(DAGSTER_HOME)"
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $${MLCOST_UI_PORT:-3000}

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/run.py $(if $(QUICK),--quick,)

clean:
	rm -rf data $(FIXTURES)
