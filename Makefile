# `make run` and `make test` set themselves up: a virtual environment in .venv with the project installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB ?= $(CURDIR)/demo.db
# Tests are mostly subprocesses and database round trips: one worker per core keeps both busy.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Initialise the demo database (SQLite) and start the console on it.
run: setup
	@$(BIN)/deliverycli --db "$(DEMO_DB)" init --demo > /dev/null  # errors still reach stderr
	@$(BIN)/python -m deliverycli.demo_intro "$(DEMO_DB)"

## Run every test (PostgreSQL ones too when DELIVERYCLI_TEST_POSTGRES_URL is set).
test: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

bench: setup
	@for b in benchmarks/*.py; do [ -e "$$b" ] && $(BIN)/python "$$b"; done; true

clean:
	rm -rf $(VENV) demo.db demo-gateway.db .pytest_cache
