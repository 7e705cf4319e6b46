# Two commands for a fresh machine: `make run` (the app) and `make test` (the test suite).
# Each creates .venv and installs ferdesk (editable, with test extras) on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test clean-venv

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ferdesk

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

clean-venv:
	rm -rf $(VENV)
