# The workbook's commands. `make lab` to learn, `make test` to check, `make run` before a workshop.
# Without make (Windows): see README.md, "Without make".
# The newest Python 3.10+ on PATH; `make PYTHON=/path/to/python3.12 lab` chooses another.
ifndef PYTHON
PYTHON := $(or $(shell for p in python3.13 python3.12 python3.11 python3.10 python3; do \
  $$p -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null && { echo $$p; break; }; done),python3)
endif
VENV   ?= .venv
BIN    := $(VENV)/bin
# The venv's tools (jupyter, pytest) come first, also for `!` cells in notebooks.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install lab test lint run notebooks lab-check clean

help:
	@echo "make lab        JupyterLab on notebooks/, with one embedded AWS for every kernel and terminal"
	@echo "make run        execute every notebook in order on a fresh embedded AWS (workshop pre-flight)"
	@echo "make lab-check  start JupyterLab, run one cell against the embedded AWS, stop (laptop pre-flight)"
	@echo "make test       lint, unit tests, and every notebook checked cell by cell (strict nbval)"
	@echo "make notebooks  re-execute the notebooks and store their outputs (for contributors)"
	@echo "make clean      remove .venv and caches"

# What a learner needs (the lab extra); `make test` adds the test tools (the dev extra).
install: $(VENV)/.lab-installed

$(VENV)/.python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || { \
	  echo "meshkit needs Python 3.10 or newer; '$(PYTHON)' is $$($(PYTHON) -V 2>&1 || echo missing)."; \
	  echo "Get a newer one, then run make again (or: make PYTHON=/path/to/python3.12 lab):"; \
	  echo "  macOS:   brew install python@3.12, or the installer from python.org"; \
	  echo "  Windows: winget install Python.Python.3.12, or the installer from python.org"; \
	  echo "  Linux:   your package manager (python3.12 python3.12-venv), or pyenv install 3.12"; \
	  echo "  Or skip installing: open the folder in GitHub Codespaces / VS Code Dev Containers"; \
	  exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) \
	  || { echo "Could not create $(VENV). On Debian/Ubuntu: apt install python3-venv"; exit 1; }
	@$(BIN)/python -m pip install -qq --upgrade pip
	@touch $@

# Each re-installs when pyproject.toml changes.
$(VENV)/.lab-installed: pyproject.toml $(VENV)/.python
	@echo "Installing meshkit and JupyterLab into $(VENV) (about 1.1 GB, a few minutes the first time)..."
	@$(BIN)/python -m pip install -qq -e '.[lab]'
	@touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.python
	@echo "Installing meshkit, JupyterLab and the test tools into $(VENV)..."
	@$(BIN)/python -m pip install -qq -e '.[dev]'
	@touch $@ $(VENV)/.lab-installed

# LAB_ARGS passes options on, e.g. make lab LAB_ARGS="--aws-port 4747".
lab: install
	$(BIN)/meshkit lab $(LAB_ARGS)

lab-check: install
	$(BIN)/meshkit lab --check

run: install
	$(BIN)/meshkit run

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Each test file on one worker, in order (a notebook's cells, a chain of runs on one server).
# Four workers even on two cores: most of a test's time is spent waiting on kernels and servers.
test: lint
	$(BIN)/pytest -n 4 --dist loadfile

notebooks: $(VENV)/.dev-installed
	$(BIN)/meshkit run --write

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
