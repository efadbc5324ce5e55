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

.PHONY: setup demo test ui lint fixtures bench clean focus-validator

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

# What mypy checks: one list, so moving a package (the fixture generator to fixtures/) is a one-line edit here.
TYPED := pipelines fixtures/model_company

# Python lint and format, SQL lint of sql/ (rules and why in .sqlfluff), types ([tool.mypy] in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint sql --disable-progress-bar
	$(BIN)/mypy $(TYPED)

bench: $(STAMP)
	$(BIN)/python bench/run.py $(if $(QUICK),--quick,)

clean:
	rm -rf data $(FIXTURES)

# The FinOps Foundation's focus-validator (tests/test_focus_validator.py), in its own virtualenv: it needs
# Python 3.12+ and numpy < 2 / pandas 2, which mlcost's .venv does not have (docs/report.md, "Validation").
FOCUS_VENV := .venv-focus
# The first Python 3.12+ that runs (a pyenv shim may exist without its version).
FOCUS_PYTHON ?= $(shell for p in python3.13 python3.12 $(HOME)/.pyenv/versions/3.1[23]*/bin/python3; do \
	"$$p" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null && { command -v "$$p"; break; }; done)

focus-validator: $(FOCUS_VENV)/.installed

$(FOCUS_VENV)/.installed: tests/focus-validator-requirements.txt
	@test -n "$(FOCUS_PYTHON)" || { echo "focus-validator needs Python 3.12 or newer: none found (set FOCUS_PYTHON)"; exit 1; }
	$(FOCUS_PYTHON) -m venv $(FOCUS_VENV)
	$(FOCUS_VENV)/bin/pip install --quiet -r tests/focus-validator-requirements.txt
	touch $@
