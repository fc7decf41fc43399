# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= test,postgresql,mysql,lint,docs
STAMP := $(VENV)/.installed
# The demo and the server install only what the sample API needs.
SAMPLE_STAMP := $(VENV)/.installed-sample
# An extra requirement installed with the project, e.g. DJANGO_SPEC="Django>=4.2,<5.0".
DJANGO_SPEC ?=

.PHONY: help venv demo serve test test-sample test-browser plans-check plans-snapshot lint docs bench clean

help:
	@echo "make demo   set up, migrate and seed the sample API, print plans and a naive-vs-optimized table"
	@echo "make test   run the test suite on SQLite (DB_BACKEND=postgresql|mysql for the others)"
	@echo "make serve  run the sample API's browsable API on 127.0.0.1:8000, with the Debug Toolbar"
	@echo "make lint   ruff and mypy"
	@echo "make docs   build the documentation with warnings as errors"
	@echo "make bench  benchmark against hand-written plans, FETCH_PEERS and peers (SIZES=10,100,1000,10000 for the full matrix)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]" $(if $(DJANGO_SPEC),"$(DJANGO_SPEC)")
	@touch $@

$(SAMPLE_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[sample]" $(if $(DJANGO_SPEC),"$(DJANGO_SPEC)")
	@touch $@

venv: $(STAMP)

demo: $(SAMPLE_STAMP)
	cd sample_api && ../$(BIN)/python manage.py migrate --no-input --verbosity 0
	cd sample_api && ../$(BIN)/python manage.py seed --size 20
	cd sample_api && ../$(BIN)/python manage.py demo --size 20

serve: $(SAMPLE_STAMP)
	cd sample_api && ../$(BIN)/python manage.py migrate --no-input --verbosity 0
	cd sample_api && ../$(BIN)/python manage.py seed --size 20
	cd sample_api && SAMPLE_API_TOOLBAR=1 ../$(BIN)/python manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-sample: $(STAMP)
	cd sample_api && ../$(BIN)/python -m pytest $(PYTEST_ARGS)

# Headless Chromium opens the sample API's Debug Toolbar panel (Debian's chromium and
# chromium-driver must be installed); the screenshot goes to BROWSER_ARTIFACTS.
BROWSER_ARTIFACTS ?= $(CURDIR)/.artifacts
test-browser: $(STAMP)
	@$(BIN)/python -c "import selenium" 2>/dev/null || $(BIN)/python -m pip install --quiet -e ".[browser]"
	cd sample_api && SAMPLE_API_TOOLBAR=1 BROWSER_ARTIFACTS="$(BROWSER_ARTIFACTS)" ../$(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

# Fails when a sample endpoint's predicted query count grew or its plan changed;
# `make plans-snapshot` records the current plans after an intended change.
plans-check: $(STAMP)
	cd sample_api && ../$(BIN)/python manage.py prefetch_plans --compare prefetch_plans.json

plans-snapshot: $(STAMP)
	cd sample_api && ../$(BIN)/python manage.py prefetch_plans --snapshot prefetch_plans.json

# All three run even when one fails, so a single run shows every problem.
lint: $(STAMP)
	@status=0; \
	echo "$(BIN)/ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "$(BIN)/ruff format --check ."; $(BIN)/ruff format --check . || status=1; \
	echo "$(BIN)/mypy"; $(BIN)/mypy || status=1; \
	exit $$status

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

# Writes docs/benchmarks/; the peers get virtualenvs .venv-bench-*. BENCH_ARGS passes more options.
bench: $(STAMP)
	@$(BIN)/python -c "import matplotlib" 2>/dev/null || $(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m benchmarks $(if $(SIZES),--sizes $(SIZES)) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-* docs/_build sample_api/db.sqlite3 .mypy_cache .ruff_cache
