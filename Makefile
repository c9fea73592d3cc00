# sargeo: the two commands of README.md, plus a few helpers.
#   make test   install what is missing into .venv/ and run the whole test suite
#   make demo   install what is missing and run the main job on an embedded default
# python3.12 on PATH (a pyenv shim that cannot run it does not count), else pyenv's 3.12.
PYTHON ?= $(shell for p in python3.12 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3.12 2>/dev/null | sort -V | tail -1) python3; do $$p -c "import sys; sys.exit(sys.version_info[:2] != (3, 12))" 2>/dev/null && { command -v $$p || echo $$p; } && break; done)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup test test-fast demo lint bench gpu-check clean-venv

setup:
	@$(PYTHON) tools/bootstrap.py --venv $(VENV)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/sargeo demo

# on a GPU machine: pretraining (DDP, bf16, SARE + SARC), speed benchmarks, OpenMMLab steps
# in at most 8 minutes -> benchmarks/results/gpu_check.json (GPU_CHECK_ARGS: e.g. --reference DIR)
GPU_CHECK_ARGS ?=
gpu-check: setup
	$(PY) -m benchmarks.gpu_check --device cuda $(GPU_CHECK_ARGS)

lint: setup
	$(PY) -m ruff check sargeo tests tools benchmarks

clean-venv:
	rm -rf $(VENV)
