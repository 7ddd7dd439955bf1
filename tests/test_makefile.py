"""`make test` finds a PostgreSQL server by itself, as CI does (`.ci/run`), so a newcomer's run is
CI's run; DELIVERYCLI_TEST_POSTGRES_URL still overrides it, and set but empty turns it off. Checked
through `make test-postgres-url`, which prints what `make test` would use, against real sockets."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")
VAR = "DELIVERYCLI_TEST_POSTGRES_URL"


def detected(*make_args: str, env_url: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != VAR}
    if env_url is not None:
        env[VAR] = env_url
    done = subprocess.run([MAKE, "-s", "--no-print-directory", "test-postgres-url", *make_args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port on 127.0.0.1 where something answers (it need not speak PostgreSQL: the probe only connects)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound, so nobody else takes it, but not listening."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        yield closed.getsockname()[1]


def test_a_server_that_answers_is_used(listening_port: int) -> None:
    assert detected(f"PG_TEST_PORT={listening_port}") == f"postgresql://postgres@127.0.0.1:{listening_port}/test"


def test_no_server_means_no_postgres_tests(silent_port: int) -> None:
    assert detected(f"PG_TEST_PORT={silent_port}") == ""


def test_the_variable_overrides_detection(silent_port: int, listening_port: int) -> None:
    assert detected(f"PG_TEST_PORT={silent_port}", env_url="postgresql://ci@db.example:5433/x") == "postgresql://ci@db.example:5433/x"
    # set but empty: no PostgreSQL tests even though a server answers
    assert detected(f"PG_TEST_PORT={listening_port}", env_url="") == ""
    # on make's command line too
    assert detected(f"PG_TEST_PORT={listening_port}", f"{VAR}=") == ""


def test_the_default_is_the_local_server_ci_uses() -> None:
    with socket.socket() as probe:
        probe.settimeout(2)
        answers = probe.connect_ex(("127.0.0.1", 5432)) == 0
    assert detected() == ("postgresql://postgres@127.0.0.1:5432/test" if answers else "")
