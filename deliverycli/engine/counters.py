"""Counts that do not scan: how many rows of a view are in each status, kept in the same transaction
as the status change, so reading them costs a few primary-key rows whatever the database's size.

One table, ``status_counts`` (scope, key, status, n). Each scope belongs to the context whose
rows it counts, and only that context changes it (through its unit of work, ``uow.count``):

- the status view (``status.py``) counts ``order_status`` rows: scope ``orders`` (key ``""``, every
  order), ``customer`` (key: the customer id) and ``store`` (key: the store id);
- the store (``store.py``) counts its kitchen tickets (``store_orders``): scope ``ticket``, key the
  store id, whatever ticket statuses exist (nothing here lists them).

A unit of work sums its changes in memory and writes them once, just before it commits, in one
order (sorted), each as ``n = n + delta`` on the row (an upsert): two transactions moving the same
counter wait for each other's row lock and never lose an increment, and never deadlock on the
counters. The invariant check compares every counter with a recount (``recount``); the rebuild of
the status view clears and recounts the status view's scopes with it; migration 0010 backfills.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from .storage import metadata

ORDERS, CUSTOMER, STORE, TICKET = "orders", "customer", "store", "ticket"
STATUS_VIEW_SCOPES = (ORDERS, CUSTOMER, STORE)

status_counts = sa.Table(
    "status_counts",
    metadata,
    sa.Column("scope", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(32), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)

Key = tuple[str, str, str]  # (scope, key, status)

# Plain SQL both SQLite (3.24+) and PostgreSQL run as is; compiled once (SQLAlchemy does not cache
# dialect-specific ON CONFLICT constructs).
_ADD = sa.text(
    "INSERT INTO status_counts (scope, key, status, n) VALUES (:scope, :key, :status, :n) "
    "ON CONFLICT (scope, key, status) DO UPDATE SET n = status_counts.n + excluded.n"
)


def order_keys(customer_id: str, store_id: str, status: str) -> tuple[Key, Key, Key]:
    """The status view's counters an order in ``status`` is counted in."""
    return (ORDERS, "", status), (CUSTOMER, customer_id, status), (STORE, store_id, status)


def add(conn: sa.Connection, deltas: Mapping[Key, int]) -> None:
    """Add ``deltas`` to the counters, in one order (sorted): see the module docstring."""
    rows = [{"scope": s, "key": k, "status": st, "n": n} for (s, k, st), n in sorted(deltas.items()) if n]
    if rows:
        conn.execute(_ADD, rows)


def read(conn: sa.Connection, scope: str, key: str = "") -> dict[str, int]:
    """The counts of one scope and key, by status (statuses with none left out)."""
    t = status_counts
    rows = conn.execute(sa.select(t.c.status, t.c.n).where(t.c.scope == scope, t.c.key == key, t.c.n != 0).order_by(t.c.status))
    return {status: n for status, n in rows}


def stored(conn: sa.Connection, scopes: Iterable[str] | None = None) -> dict[Key, int]:
    """Every non-zero counter (of ``scopes``, if given)."""
    t = status_counts
    query = sa.select(t.c.scope, t.c.key, t.c.status, t.c.n).where(t.c.n != 0)
    if scopes is not None:
        query = query.where(t.c.scope.in_(list(scopes)))
    return {(s, k, st): n for s, k, st, n in conn.execute(query)}


def recount_orders(rows: Iterable[tuple[str, str, str]]) -> Counter[Key]:
    """The status view's counters for rows of (customer id, store id, status)."""
    counts: Counter[Key] = Counter()
    for customer_id, store_id, status in rows:
        counts.update(order_keys(customer_id, store_id, status))
    return counts


def recount_tickets(rows: Iterable[tuple[str, str]]) -> Counter[Key]:
    """The store's counters for tickets of (store id, status)."""
    return Counter((TICKET, store_id, status) for store_id, status in rows)


def clear(conn: sa.Connection, scopes: Iterable[str]) -> None:
    conn.execute(status_counts.delete().where(status_counts.c.scope.in_(list(scopes))))


def backfill_sql() -> list[str]:
    """SQL that recounts every counter from the rows (for migration 0010 and bulk-built databases);
    run on an empty ``status_counts``."""
    insert = "INSERT INTO status_counts (scope, key, status, n) "
    return [
        insert + f"SELECT '{ORDERS}', '', status, count(*) FROM order_status GROUP BY status",
        insert + f"SELECT '{CUSTOMER}', customer_id, status, count(*) FROM order_status GROUP BY customer_id, status",
        insert + f"SELECT '{STORE}', store_id, status, count(*) FROM order_status GROUP BY store_id, status",
        insert + f"SELECT '{TICKET}', store_id, status, count(*) FROM store_orders GROUP BY store_id, status",
    ]


def backfill(conn: sa.Connection, scopes: Iterable[str] | None = None) -> None:
    """Recount the counters of ``scopes`` (every scope by default) from the rows, replacing them."""
    chosen = list(scopes) if scopes is not None else [*STATUS_VIEW_SCOPES, TICKET]
    clear(conn, chosen)
    for scope, sql in zip((ORDERS, CUSTOMER, STORE, TICKET), backfill_sql()):
        if scope in chosen:
            conn.execute(sa.text(sql))
