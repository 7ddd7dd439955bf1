"""`serve --workers 2`: two processes, each with its own engine, on one database; riders racing for
the same deliveries through both still have exactly one winner each."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from deliverycli.engine import invariants

from .support import ADDRESS, backends, shop

ORDERS = 12


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize("backend", backends())
def test_racing_pickups_across_two_workers_have_one_winner_each(backend: str, tmp_path: Path) -> None:
    with shop(backend, tmp_path, "--workers", "2") as s:
        assert len(children(s.gateway.proc.pid)) >= 2, "two worker processes"
        engine = s.engine
        ready = []
        for _ in range(ORDERS):
            oid = engine.orders.place("alice", "pizza-palace", ["cola"], ADDRESS).id
            engine.store.accept(oid, "pizza-palace")
            engine.store.ready(oid, "pizza-palace")
            ready.append(oid)
        riders = {"kim": "rider-kim", "lee": "rider-lee"}
        # one connection per rider per order: new connections spread over both workers
        start = threading.Barrier(2)

        def race(who: str, oid: str) -> int:
            with httpx.Client(base_url=s.gateway.url, timeout=60, headers={"Authorization": f"Bearer {s.tokens[who]}"}) as client:
                start.wait()
                return client.post(f"/deliveries/{oid}/pickup").status_code

        with ThreadPoolExecutor(2) as pool:
            results = {oid: dict(zip(riders, pool.map(race, riders, [oid, oid]))) for oid in ready}
        for oid, statuses in results.items():
            assert sorted(statuses.values()) == [200, 409], (oid, statuses)
            winner = next(riders[who] for who, status in statuses.items() if status == 200)
            assert engine.orders.status(oid).rider_id == winner
            assert sum(e.event_type == "DeliveryPickedUp" for e in engine.events.read(order_id=oid)) == 1
        assert invariants.run(engine.db, engine.handled(), engine.gateway).problems == []
    assert s.gateway.proc.returncode == 0, s.gateway.stderr[-3000:]
