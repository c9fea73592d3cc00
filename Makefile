# sargeo: the two commands of README.md, plus a few helpers.
#   make test   install what is missing into .venv/ and run the whole test suite
#   make demo   install what is missing and run the main job on an embedded default
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup test test-fast demo lint bench clean-venv

setup:
	@$(PYTHON) tools/bootstrap.py --venv $(VENV)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/sargeo demo

lint: setup
	$(PY) -m ruff check sargeo tests tools benchmarks

clean-venv:
	rm -rf $(VENV)
