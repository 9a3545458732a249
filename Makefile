# Switchyard: `make run` starts the whole stack, `make test` runs the whole suite.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
BOOTSTRAP_PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: run test bench bench-scale mutate hostile venv lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PYTHON) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PYTHON) -m project.stack

# The browser tests drive Debian's Chromium (Playwright's own download cannot work here).
CHROMIUM ?= /usr/bin/chromium

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "make test: $(CHROMIUM) is missing; install Debian's chromium (sudo apt-get install chromium)"; \
		exit 1; \
	fi

# The real analytics.js that tests/browser/test_analytics_js.py loads, at the version
# package-lock.json pins; installed again when the lock changes.
tests/browser/node_modules: tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund
	touch $@

# The import contracts (pyproject.toml) first, then the suite: on PostgreSQL when one answers at
# DATABASE_URL (or the local default), on SQLite otherwise.
test: venv $(CHROMIUM) tests/browser/node_modules
	$(VENV)/bin/lint-imports --no-cache
	@mkdir -p var; export DATABASE_URL="$$($(PYTHON) tests/database_url.py)"; \
	echo "make test: database $$DATABASE_URL"; \
	SECRET_KEY=test-secret-key DEBUG=false DB_CONN_MAX_AGE=0 SECURE_SSL_REDIRECT=false $(VENV)/bin/pytest -n auto $(PYTEST_ARGS)

# Benchmarks (docs/performance.md) on PostgreSQL, 20 to 30 minutes on 2 cores (BENCH_ONLY picks
# sections, bench/run.py); the load generator is wrk, from Debian's packages.
WRK ?= /usr/bin/wrk

$(WRK):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	else \
		echo "make bench: $(WRK) is missing; install it (sudo apt-get install wrk)"; exit 1; \
	fi

bench: venv $(WRK)
	@mkdir -p bench/results var
	$(PYTHON) bench/run.py

# The same figures on a full database (5 million events preloaded; PostgreSQL only), beside the
# empty database's, with a million-event drain and the claim on a million waiting deliveries;
# 45 to 60 minutes on 2 cores. BENCH_SCALE_EVENTS, ... in bench/scale.py.
bench-scale: venv $(WRK)
	@mkdir -p bench/results var
	$(PYTHON) bench/scale.py

# Mutation testing of one module against its tests (not part of CI; docs/testing.md):
#   make mutate MODULE=destinations/delivery/retention.py TESTS="tests/destinations/delivery"
MODULE ?= destinations/delivery/retention.py
TESTS ?= tests/destinations/delivery

mutate: venv
	@mkdir -p var
	$(PYTHON) tests/mutate.py $(MODULE) $(TESTS)

# The hostile-input suite with many more examples than CI's (docs/testing.md, "make hostile").
hostile: venv
	@mkdir -p var; export DATABASE_URL="$$($(PYTHON) tests/database_url.py)"; \
	SECRET_KEY=test-secret-key DEBUG=false DB_CONN_MAX_AGE=0 SECURE_SSL_REDIRECT=false \
	HYPOTHESIS_PROFILE=long $(VENV)/bin/pytest tests/hostile $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var
