# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= test,postgresql,mysql,lint,docs
STAMP := $(VENV)/.installed

.PHONY: help venv demo serve test test-sample lint docs bench clean

help:
	@echo "make demo   set up, migrate and seed the sample API, print plans and a naive-vs-optimized table"
	@echo "make test   run the test suite on SQLite (DB_BACKEND=postgresql|mysql for the others)"
	@echo "make serve  run the sample API's browsable API on 127.0.0.1:8000"
	@echo "make lint   ruff and mypy"
	@echo "make docs   build the documentation with warnings as errors"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $@

venv: $(STAMP)

demo: $(STAMP)
	cd sample_api && ../$(BIN)/python manage.py migrate --no-input --verbosity 0
	cd sample_api && ../$(BIN)/python manage.py seed --size 20
	cd sample_api && ../$(BIN)/python manage.py demo --size 20

serve: $(STAMP)
	cd sample_api && ../$(BIN)/python manage.py migrate --no-input --verbosity 0
	cd sample_api && ../$(BIN)/python manage.py seed --size 20
	cd sample_api && ../$(BIN)/python manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-sample: $(STAMP)
	cd sample_api && ../$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .venv-* docs/_build sample_api/db.sqlite3 .mypy_cache .ruff_cache
