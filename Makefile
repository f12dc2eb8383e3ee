# The workbook's commands. `make lab` to learn, `make test` to check, `make run` before a workshop.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The venv's tools (aws, jupyter, pytest) come first, also for `!aws` cells in notebooks.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install lab test lint run notebooks clean

help:
	@echo "make lab        JupyterLab on notebooks/, with one embedded AWS for every kernel and terminal"
	@echo "make test       lint, unit tests, and every notebook checked cell by cell (strict nbval)"
	@echo "make run        execute every notebook in order on a fresh embedded AWS (workshop pre-flight)"
	@echo "make notebooks  re-execute the notebooks and store their outputs (for contributors)"
	@echo "make clean      remove .venv and caches"

install: $(VENV)/.installed

# Re-installs when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
	  || { echo "meshkit needs Python 3.10 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1). Try: make PYTHON=python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) \
	  || { echo "Could not create $(VENV). On Debian/Ubuntu: apt install python3-venv"; exit 1; }
	@echo "Installing meshkit and its tools into $(VENV) (about a minute the first time)..."
	@$(BIN)/python -m pip install -qq --upgrade pip
	@$(BIN)/python -m pip install -qq -e '.[dev]'
	@touch $@

lab: install
	$(BIN)/meshkit lab

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

run: install
	$(BIN)/meshkit run

notebooks: install
	$(BIN)/meshkit run --write

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
