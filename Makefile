# Two commands for a newcomer: `make demo` (the main job) and `make test` (lint, then the tests).
# Each sets up what is missing first: a virtual environment in .venv, the CPU build of torch,
# then the package with its test tools and Ray (the optional extra behind --workers). Later
# runs reuse .venv; editing pyproject.toml reinstalls the package.
#
#   TORCH        the torch requirement installed first (default: torch==2.13.0, the CPU build
#                on local disk on our machines)
#   TORCH_INDEX  where pip finds it; elsewhere, on a CPU-only Linux box, use PyTorch's CPU wheel
#                index: make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu TORCH=torch
#   PYTHON       the interpreter that creates .venv (default: python3)

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint setup clean-venv

demo: $(STAMP)
	$(BIN)/sparse-dip denoise data/astronaut_noisy.png --sparsity 0.95 --clean data/astronaut.png \
		--out results/astronaut_denoised.png

test: lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

setup: $(STAMP)

# torch goes in before the package: the package asks for torch>=2.4, and with no torch installed
# pip would satisfy that with a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test,ray]"
	touch $@

clean-venv:
	rm -rf $(VENV)
