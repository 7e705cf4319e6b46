# Two commands for a fresh machine: `make run` (the app) and `make test` (the test suite).
# Each creates .venv and installs ferdesk (editable, with the test and cluster extras) on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint clean-venv

$(STAMP): setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,cluster]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ferdesk

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

# The linter and the layer rules (.importlinter); .ci/run runs both after the tests.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean-venv:
	rm -rf $(VENV)
