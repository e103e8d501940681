# The two commands of README.md: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Development server: DEBUG on, e-mails kept in var/mail/ and shown at /dev/outbox/.
DEV_ENV := DEBUG=1

.PHONY: run test install install-dev system-deps lint format demo clean-db

$(PY):
	@python=$$(scripts/find_python.sh) && echo "Python : $$python" && "$$python" -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip

# Stamps: pip runs again only when a requirements file changes.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

system-deps:
	@scripts/install_system_deps.sh

demo: install
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py seed_demo

# Web server and worker together (Procfile, honcho): one Ctrl-C stops both.
run: demo
	@echo "Cerdd AMI : http://$(HOST):$(PORT)/  (admin : http://$(HOST):$(PORT)/admin/, e-mails : http://$(HOST):$(PORT)/dev/outbox/)"
	$(DEV_ENV) VENV=$(VENV) HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/honcho start --port $(PORT) --procfile Procfile

# Two runs: the fast suite, then the browser tests apart (they flush their worker's database
# between tests, which must not happen under another test's feet). Each on both cores: every
# xdist worker has its own test database.
test: install-dev system-deps
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n 2 -m "not browser"
	$(PY) -m pytest -n 2 -m browser

lint: install-dev
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: install-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .
