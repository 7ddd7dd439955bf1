# `make run` and `make test` set themselves up: a virtual environment in .venv with the project installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB ?= $(CURDIR)/demo.db
# Tests are mostly subprocesses and database round trips: one worker per core keeps both busy.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

# PostgreSQL for the tests: $DELIVERYCLI_TEST_POSTGRES_URL when it is set (set but empty: none),
# otherwise the local server when one answers on 127.0.0.1:5432, so a newcomer's `make test` is CI's run.
PG_TEST_HOST ?= 127.0.0.1
PG_TEST_PORT ?= 5432
PG_TEST_URL = postgresql://postgres@$(PG_TEST_HOST):$(PG_TEST_PORT)/test
PG_DETECT = if [ -n "$${DELIVERYCLI_TEST_POSTGRES_URL+set}" ]; then printf '%s' "$$DELIVERYCLI_TEST_POSTGRES_URL"; \
	elif { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h $(PG_TEST_HOST) -p $(PG_TEST_PORT); } || \
		$(PYTHON) -c "import socket; socket.create_connection(('$(PG_TEST_HOST)', $(PG_TEST_PORT)), 2)" 2>/dev/null; then \
		printf '%s' "$(PG_TEST_URL)"; fi

.PHONY: setup run test test-postgres-url bench soak clean

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

## Run every test; the PostgreSQL ones against the server PG_DETECT finds (see above); the NATS ones
## against the server at DELIVERYCLI_TEST_NATS_URL (default nats://127.0.0.1:4222) when one answers.
test: setup
	@url="$$($(PG_DETECT))"; \
	if [ -n "$$url" ]; then echo "PostgreSQL tests: $$url"; \
	elif [ -n "$${DELIVERYCLI_TEST_POSTGRES_URL+set}" ]; then echo "PostgreSQL tests: skipped (DELIVERYCLI_TEST_POSTGRES_URL is empty)"; \
	else echo "PostgreSQL tests: skipped (no server on $(PG_TEST_HOST):$(PG_TEST_PORT); DELIVERYCLI_TEST_POSTGRES_URL names another)"; fi; \
	DELIVERYCLI_TEST_POSTGRES_URL="$$url" $(BIN)/python -m pytest -q -n $(TEST_WORKERS)

## Print the PostgreSQL URL `make test` would use (nothing: PostgreSQL tests are skipped).
test-postgres-url:
	@$(PG_DETECT); echo

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
