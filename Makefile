# `make run` and `make test` set themselves up: a virtual environment in .venv with the project installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB ?= $(CURDIR)/demo.db
# Tests are mostly subprocesses and database round trips: one worker per core keeps both busy.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: setup run test bench soak clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Initialise the demo database (SQLite) and start the console on it.
run: setup
	@$(BIN)/deliverycli --db "$(DEMO_DB)" init --demo > /dev/null  # errors still reach stderr
	@$(BIN)/deliverycli --db "$(DEMO_DB)" tui

## Run every test (PostgreSQL ones too when DELIVERYCLI_TEST_POSTGRES_URL is set; NATS ones when a server
## answers at DELIVERYCLI_TEST_NATS_URL, default nats://127.0.0.1:4222).
test: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

## Run every benchmark (benchmarks/bench_*.py; minutes). Not part of `make test`. PostgreSQL too when
## DELIVERYCLI_TEST_POSTGRES_URL is set. Pass options to all of them with BENCH_ARGS, e.g. BENCH_ARGS=--json.
bench: setup
	@status=0; for b in benchmarks/bench_*.py; do \
		[ -e "$$b" ] || continue; echo "== $$b"; $(BIN)/python "$$b" $(BENCH_ARGS) || status=1; echo; \
	done; exit $$status

## The long reliability run (tens of minutes): >= 20 SIGKILLs of `simulate` on SQLite and PostgreSQL,
## thousands of random command sequences; writes docs/reliability.md. Not part of `make test`.
soak: setup
	$(BIN)/python -m tests.reliability.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) demo.db demo-gateway.db .pytest_cache
