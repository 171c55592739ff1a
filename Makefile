# Every target sets up what it needs: a fresh clone needs only `make run` or `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# The first interpreter that is Python 3.12+ (pyenv picks 3.12 from .python-version).
SYSTEM_PYTHON := $(shell for p in python3 python3.12 python3.13 python3.14; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { echo $$p; break; }; done)
HOST ?= 127.0.0.1
PORT ?= 8000
SIMULATOR_PORT ?= 8001
DEMO_DB := sqlite:///$(CURDIR)/demo.sqlite3

.PHONY: run demo test lint format setup dotenv bench clean

$(PYTHON):
	@test -n "$(SYSTEM_PYTHON)" || { echo "Python 3.12 or newer is needed (see .python-version)."; exit 1; }
	$(SYSTEM_PYTHON) -m venv $(VENV)

$(STAMP): $(PYTHON) requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

dotenv: $(STAMP)  ## .env with fresh secrets; adds any a newer version needs, never changes one
	@$(PYTHON) -m audienceadmin.envfile

setup: dotenv  ## virtualenv, pinned requirements, .env with fresh secrets, migrated SQLite
	DJANGO_DEBUG=true $(PYTHON) manage.py migrate --no-input

run: setup  ## the dashboard on http://127.0.0.1:8000 (SQLite) and a task worker; Ctrl-C stops both
	DJANGO_DEBUG=true $(PYTHON) manage.py ensure_admin
	DJANGO_DEBUG=true $(PYTHON) manage.py serve $(HOST):$(PORT)

demo: dotenv  ## the dashboard against the bundled Batch simulator, with demo data
	DJANGO_DEBUG=true DATABASE_URL=$(DEMO_DB) $(PYTHON) manage.py migrate --no-input
	DJANGO_DEBUG=true DATABASE_URL=$(DEMO_DB) $(PYTHON) manage.py demo \
		--addr $(HOST):$(PORT) --simulator-port $(SIMULATOR_PORT)

test: dotenv  ## the whole test suite (browser tests need /usr/bin/chromium)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff (lint and format) and mypy (types, with Django's stubs)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_DEBUG=true $(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .mypy_cache .hypothesis
