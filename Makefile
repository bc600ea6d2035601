# Two commands do all set-up on a fresh machine with Python 3.11:
#   make run   installs, migrates, loads the seed demo, starts the web server and the workers
#   make test  installs and runs the test suite (ARGS="..." passes options to pytest)

SHELL  := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
ARGS   ?=

.PHONY: run test install migrate demo lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py ensure_admin

# The web server and the supervised workers run side by side; Ctrl-C (or either one dying)
# stops both (run_workers stops its cluster within Q_TIMEOUT + 5 s).
# Development: DEBUG on (settings default it off); DEBUG=0 make run tries production mode.
run: export DEBUG ?= 1
run: demo
	@echo "Admin: http://$(HOST):$(PORT)/admin/  (workers: manage.py run_workers)"
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	$(BIN)/python manage.py run_workers & \
	$(BIN)/python manage.py runserver $(HOST):$(PORT) & \
	wait -n

test: install
	$(BIN)/python -m pytest $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3* staticfiles .pytest_cache
