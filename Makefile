# Two commands: `make run` serves Prism on http://127.0.0.1:8000, `make test` runs the suite.
# Both set up what is missing first (Debian packages, virtualenv, migrations) and reuse what is there.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Prefer Python 3.12; fall back to pyenv's 3.12 or to python3 (3.11 works too, with PyAV 18).
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 python3; do \
	"$$p" -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV := .venv
comma := ,
PY := $(VENV)/bin/python

RUN_PACKAGES := ffmpeg nginx-light libnginx-mod-rtmp redis-server fonts-dejavu-core python3-venv
TEST_PACKAGES := $(RUN_PACKAGES) postgresql chromium

.PHONY: help run test system system-test services venv migrate lint format clean

help:
	@echo "make run   - set up and serve Prism on http://127.0.0.1:8000 (SQLite, local Redis, ingest on :1935)"
	@echo "make test  - set up and run the whole test suite (PostgreSQL and Redis on 127.0.0.1)"
	@echo "make lint  - ruff check and the import contracts (import-linter, pyproject.toml)"

system:
	@bin/install-system-packages $(RUN_PACKAGES)

system-test:
	@bin/install-system-packages $(TEST_PACKAGES)

services:
	@bin/ensure-test-services

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "No Python 3.11+ found: install python3 (Debian: apt-get install python3 python3-venv)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $@

.env:
	@printf '# Local development settings written by `make run`; see .env.example for every variable.\nDEBUG=1\n' > .env
	@echo "Wrote .env (DEBUG=1) for local development."

migrate: venv .env
	@mkdir -p var
	$(PY) manage.py migrate --noinput

# Every Procfile process but `release` (honcho stops all when one exits; migrate ran above).
RUN_PROCESSES ?= web,worker,media,beat,redis,ingest,whip

run: system venv .env migrate
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start $(subst $(comma), ,$(RUN_PROCESSES))

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

# Two workers (the suite waits on real streams more than it computes), a test file per worker so
# each file's servers and fixtures stay together. PYTEST_ARGS="-n 0" runs it in one process.
PYTEST_ARGS ?= -n 2 --dist loadfile

test: system-test services venv lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

format: venv
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var/run
