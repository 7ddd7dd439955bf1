"""Workers' shares of the subscribers on PostgreSQL (engine/shares.py): split fairly, kept apart
per schema, taken over at once from a worker killed with SIGKILL, and never needed for exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import PG_URL, _postgres_schema_url

from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.commands import AcceptOrder
from deliverycli.engine import eventlog, shares
from deliverycli.engine.shares import SubscriberShares
from deliverycli.engine.worker import _listen

from .support import check_invariants, commit_only, demo_engine
from .test_reliability import place_order_cmd
from .test_workers import WAIT_S, backlog, wait_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="DELIVERYCLI_TEST_POSTGRES_URL not set")]


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """A demo database in a fresh PostgreSQL schema (shares exist only there: on SQLite one worker drains at a time)."""
    urls = _postgres_schema_url()
    engine = demo_engine(next(urls), retry_backoff_s=0.001)
    yield engine
    engine.close()
    urls.close()


def names(engine: Engine) -> list[str]:
    return [s.name for s in engine.bus.subscribers]


def holders(engine: Engine) -> dict[int, int]:
    with engine.read() as conn:
        return shares.holders(conn)


def test_two_shares_split_the_subscribers_and_one_left_alone_claims_them_all(pg_engine: Engine) -> None:
    first, second = SubscriberShares(pg_engine, names(pg_engine)), SubscriberShares(pg_engine, names(pg_engine))
    try:
        assert first.rebalance() == set(names(pg_engine))  # alone: every subscriber
        assert second.rebalance() == set()  # all held; the first gives back what is beyond its fair share ...
        assert len(first.rebalance()) == 3
        assert len(second.rebalance()) == 3  # ... and the second claims it
        assert first.owned | second.owned == set(names(pg_engine)) and not first.owned & second.owned
        assert sorted(holders(pg_engine).values()) == [3, 3]
        first.close()  # its connection, and so its locks, go (once the server has ended its backend)
        wait_for(lambda: second.rebalance() == set(names(pg_engine)), "the second to claim every subscriber")
    finally:
        first.close()
        second.close()


def test_shares_in_another_schema_are_not_counted_or_held(pg_engine: Engine) -> None:
    other_url = _postgres_schema_url()
    other = demo_engine(next(other_url))
    mine, theirs = SubscriberShares(pg_engine, names(pg_engine)), SubscriberShares(other, names(other))
    try:
        assert mine.rebalance() == set(names(pg_engine))
        assert theirs.rebalance() == set(names(other))  # not one worker more, not one subscriber less
    finally:
        mine.close()
        theirs.close()
        other.close()
        other_url.close()


def test_another_schemas_appends_do_not_wake_this_ones_workers(pg_engine: Engine) -> None:
    """The NOTIFY channel is the schema's own: a worker of this schema never hears another schema's appends."""
    other_url = _postgres_schema_url()
    other = demo_engine(next(other_url))
    listener = _listen(pg_engine)  # what a worker of this schema LISTENs on
    try:
        commit_only(other, place_order_cmd())
        with pg_engine.db.begin() as marker:
            marker.execute(sa.text("SELECT pg_notify(:channel, 'marker')"), {"channel": eventlog.notify_channel(marker)})
        # Notifications arrive in commit order: anything heard before the marker came from the other schema.
        heard = [n.payload for n in listener.notifies(timeout=WAIT_S, stop_after=1)]
        assert heard == ["marker"], heard
        assert _channel_of(pg_engine) != _channel_of(other)
    finally:
        listener.close()
        other.close()
        other_url.close()


def _channel_of(engine: Engine) -> str:
    with engine.read() as conn:
        return eventlog.notify_channel(conn)


def test_a_worker_killed_with_sigkill_leaves_its_share_to_the_other_which_settles_everything(pg_engine: Engine) -> None:
    procs = [subprocess.Popen([sys.executable, "-m", "deliverycli", "--db", pg_engine.settings.db, "--json", "worker"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(2)]
    try:
        wait_for(lambda: sorted(holders(pg_engine).values()) == [3, 3], "the two workers to hold three subscribers each")
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(timeout=WAIT_S)
        placed = backlog(pg_engine, 6)
        wait_for(lambda: list(holders(pg_engine).values()) == [6], "the survivor to claim every subscriber")
        wait_for(lambda: not any(pg_engine.ops.lag().values()), "the survivor to settle the backlog")
        for oid in placed[:3]:  # the store's tickets exist now: accepting starts the store's and the status view's work
            commit_only(pg_engine, AcceptOrder(oid, "pizza-palace"))
        wait_for(lambda: not any(pg_engine.ops.lag().values()), "the survivor to settle the accepts")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        outs = [proc.communicate(timeout=WAIT_S) for proc in procs]
    assert procs[1].returncode == 0, outs[1]
    view = check_invariants(pg_engine)["view"]
    assert [view[o] for o in placed] == ["COOKING"] * 3 + ["PAID"] * 3


def test_without_its_share_connection_a_worker_drains_every_subscriber(pg_engine: Engine, monkeypatch: Any) -> None:
    """The shares only spare work: when the database cannot say what a worker's share is, it drains all."""
    shares = SubscriberShares(pg_engine, names(pg_engine))

    def refuse(self: SubscriberShares) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(SubscriberShares, "_connect", refuse)
    assert shares.rebalance() is None and shares.owned == set()
