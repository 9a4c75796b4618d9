# One command sets up and runs each job; the virtual environment is made once and reused.
# make test       set up, then run every notebook's tests (what CI runs)
# make test-slow  the same, including cells flagged `#| slow`
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.ddpm_nb-installed
export DDPM_NB_DATA ?= $(CURDIR)/data

.PHONY: setup test test-slow export clean-nbs

$(STAMP): settings.ini setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(PY) tools/test_nbs.py

test-slow: setup
	$(PY) tools/test_nbs.py --flags slow

export: setup
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean
