# Two commands on a fresh machine (each creates or reuses the virtual environment .venv):
#   make report   run `regdiag report` on the bundled default data set
#   make test     run the whole test suite
#   make lint     ruff (lint and import order), mypy on the package, numpydoc validation of the public API
# and `make docs` builds the documentation into docs/_build/html (warnings are errors; every example runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: report test lint venv docs clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet 'torch==2.13.0'  # the CPU build (a local wheel) before the torch extra
	$(BIN)/python -m pip install --quiet -e '.[dev,torch,dask]'
	$(BIN)/python -m compileall -q regdiag  # byte-code written once, even where PYTHONDONTWRITEBYTECODE is set
	touch $(STAMP)

venv: $(STAMP)

report: $(STAMP)
	$(BIN)/regdiag report

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python tools/check_docstrings.py

$(VENV)/.installed-docs: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $@

docs: $(VENV)/.installed-docs
	$(BIN)/python -m sphinx -W -E -q -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build dist *.egg-info regdiag-report docs/_build .mypy_cache .ruff_cache
