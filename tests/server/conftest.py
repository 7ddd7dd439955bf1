"""A shop served by a real gateway, shared by the tests of one module on each backend (starting a
server and a database costs seconds; each test makes its own orders)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import Shop, backends, shop


@pytest.fixture(scope="module", params=backends())
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with shop(request.param, tmp_path_factory.mktemp("served")) as s:
        yield s
    assert s.gateway.proc.returncode == 0, s.gateway.stderr[-3000:]


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path
