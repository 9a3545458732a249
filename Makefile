# Switchyard: `make run` starts the whole stack, `make test` runs the whole suite.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
BOOTSTRAP_PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: run test venv lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PYTHON) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PYTHON) -m project.stack

# The suite runs on PostgreSQL when one answers at DATABASE_URL (or the local default),
# on SQLite otherwise.
test: venv
	@mkdir -p var; export DATABASE_URL="$$($(PYTHON) tests/database_url.py)"; \
	echo "make test: database $$DATABASE_URL"; \
	SECRET_KEY=test-secret-key DEBUG=false DB_CONN_MAX_AGE=0 $(VENV)/bin/pytest -n auto $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var
