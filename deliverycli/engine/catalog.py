"""Reference data: stores, menus, customers and riders. Every context may read it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .errors import Conflict, DeliveryError, InvalidInput, NotFound
from .storage import UTCDateTime, insert_ignore, metadata
from .views import Customer, MenuItem, Rider, Store
from .validation import check_id, check_prep_min, check_text

stores = sa.Table(
    "stores",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("address", sa.String(500), nullable=False),
    sa.Column("prep_min", sa.Integer, nullable=False, server_default="15"),  # usual preparation time in minutes
    sa.Column("paused_at", UTCDateTime, nullable=True),  # set while the store takes no orders
    sa.Column("pause_reason", sa.String(200), nullable=True),
)

menu_items = sa.Table(
    "menu_items",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("store_id", sa.String(64), sa.ForeignKey("stores.id"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("price", sa.Integer, nullable=False),
    sa.Column("available", sa.Boolean, nullable=False, default=True),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("address", sa.String(500), nullable=False),
)

riders = sa.Table(
    "riders",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("vehicle", sa.String(50), nullable=False),
)

MAX_PRICE = 10_000_000  # minor units; a guard against typos, not a business rule
DEFAULT_PREP_MIN = 15


_TABLES = {"store": stores, "customer": customers, "rider": riders}
_BY_ID = {table.name: sa.select(table).where(table.c.id == sa.bindparam("id")) for table in (stores, customers, riders)}


def _one(conn: sa.Connection, table: sa.Table, kind: str, id_: str) -> dict[str, Any]:
    row = conn.execute(_BY_ID[table.name], {"id": id_}).mappings().first()
    if row is None:
        raise NotFound(f"no {kind} {id_!r}")
    return dict(row)


@contextmanager
def known_if_refused(conn: sa.Connection, kind: str, actor_id: str) -> Iterator[None]:
    """For a command whose aggregate itself checks who may act (only its own store, customer or
    rider): no lookup when it succeeds, and an unknown actor who is refused is told that first."""
    try:
        yield
    except DeliveryError:
        _one(conn, _TABLES[kind], kind, actor_id)
        raise


def store_view(row: Any) -> Store:
    return Store(
        id=row["id"], name=row["name"], address=row["address"], prep_min=row["prep_min"], paused=row["paused_at"] is not None,
        pause_reason=row["pause_reason"],
    )


def get_store(conn: sa.Connection, store_id: str) -> Store:
    """The store ``store_id``; NotFound if there is none."""
    return store_view(_one(conn, stores, "store", store_id))


def get_customer(conn: sa.Connection, customer_id: str) -> Customer:
    """The customer ``customer_id``; NotFound if there is none."""
    return Customer(**_one(conn, customers, "customer", customer_id))


def get_rider(conn: sa.Connection, rider_id: str) -> Rider:
    """The rider ``rider_id``; NotFound if there is none."""
    return Rider(**_one(conn, riders, "rider", rider_id))


def list_stores(conn: sa.Connection) -> list[Store]:
    return [store_view(r) for r in conn.execute(sa.select(stores).order_by(stores.c.id)).mappings()]


def list_customers(conn: sa.Connection) -> list[Customer]:
    return [Customer(**r) for r in conn.execute(sa.select(customers).order_by(customers.c.id)).mappings()]


def list_riders(conn: sa.Connection) -> list[Rider]:
    return [Rider(**r) for r in conn.execute(sa.select(riders).order_by(riders.c.id)).mappings()]


def list_menu(conn: sa.Connection, store_id: str | None = None) -> list[MenuItem]:
    """Menu items in store and id order; only the store's with ``store_id`` (NotFound for an unknown store)."""
    query = sa.select(menu_items).order_by(menu_items.c.store_id, menu_items.c.id)
    if store_id is not None:
        get_store(conn, store_id)
        query = query.where(menu_items.c.store_id == store_id)
    return [MenuItem(**r) for r in conn.execute(query).mappings()]


_MENU_ITEMS_BY_ID = sa.select(menu_items).where(menu_items.c.id.in_(sa.bindparam("ids", expanding=True)))


def menu_items_by_id(conn: sa.Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = conn.execute(_MENU_ITEMS_BY_ID, {"ids": ids}).mappings()
    return {row["id"]: dict(row) for row in rows}


class CatalogReader:
    """Reference data as the other contexts read it inside a unit of work (``uow.catalog``)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def customer(self, customer_id: str) -> Customer:
        return get_customer(self.conn, customer_id)

    def store(self, store_id: str) -> Store:
        return get_store(self.conn, store_id)

    def rider(self, rider_id: str) -> Rider:
        return get_rider(self.conn, rider_id)

    def menu_items(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Menu items by id (unknown ids are missing from the result)."""
        return menu_items_by_id(self.conn, ids)

    def known_if_refused(self, kind: str, actor_id: str) -> Any:
        """See ``known_if_refused``."""
        return known_if_refused(self.conn, kind, actor_id)


def _insert(conn: sa.Connection, table: sa.Table, kind: str, values: dict[str, Any]) -> dict[str, Any]:
    _add_row(conn, table, kind, values)
    return values


def _add_row(conn: sa.Connection, table: sa.Table, kind: str, values: dict[str, Any]) -> bool:
    """Insert a row; True when it is new, False when an identical one was there (the request is
    already done). A different row with the same id is a Conflict.

    One statement that skips a taken key, then a look at what took it: another process may add the
    same id between any check and the insert (a unique-key violation, which on PostgreSQL would
    also abort the rest of the transaction).
    """
    # RETURNING says whether a row went in (psycopg reports no rowcount for ON CONFLICT DO NOTHING)
    if conn.execute(insert_ignore(conn, table).values(**values).returning(table.c.id)).first() is not None:
        return True
    existing = conn.execute(sa.select(table).where(table.c.id == values["id"])).mappings().first()
    if existing is not None and all(existing[name] == value for name, value in values.items()):
        return False
    raise Conflict(f"{kind} {values['id']!r} already exists")


def add_store(conn: sa.Connection, id: str, name: str, address: str, prep_min: int = DEFAULT_PREP_MIN) -> Store:
    values = {
        "id": check_id("store", id), "name": check_text("name", name, 200), "address": check_text("address", address, 500),
        "prep_min": check_prep_min(prep_min),
    }
    _insert(conn, stores, "store", values)
    return get_store(conn, values["id"])


def pause_store(conn: sa.Connection, store_id: str, reason: str | None, at: datetime) -> Store:
    """Stop taking orders (the tickets already in the kitchen go on); pausing again replaces the reason."""
    get_store(conn, store_id)
    reason = check_text("reason", reason, 200) if reason is not None else None
    conn.execute(stores.update().where(stores.c.id == store_id).values(paused_at=at, pause_reason=reason))
    return get_store(conn, store_id)


def resume_store(conn: sa.Connection, store_id: str) -> Store:
    """Take orders again (a store that is not paused stays as it is)."""
    get_store(conn, store_id)
    conn.execute(stores.update().where(stores.c.id == store_id).values(paused_at=None, pause_reason=None))
    return get_store(conn, store_id)


def set_item_available(conn: sa.Connection, store_id: str, item_id: str, available: bool) -> MenuItem:
    """Mark a store's menu item sold out (``available=False``) or available again."""
    get_store(conn, store_id)
    item = menu_items_by_id(conn, [item_id]).get(item_id)
    if item is None:
        raise NotFound(f"no menu item {item_id!r}")
    if item["store_id"] != store_id:
        raise InvalidInput(f"menu item {item_id!r} is sold by {item['store_id']}, not {store_id}", field="item")
    conn.execute(menu_items.update().where(menu_items.c.id == item_id).values(available=available))
    return MenuItem(**(item | {"available": available}))


def closed_reason(store: Store) -> str | None:
    """Why a store takes no orders now, in the customer's words; None when it does."""
    if not store.paused:
        return None
    return f"{store.name} is not taking orders right now" + (f": {store.pause_reason}" if store.pause_reason else "")


def add_customer(conn: sa.Connection, id: str, name: str, address: str) -> dict[str, Any]:
    values = {"id": check_id("customer", id), "name": check_text("name", name, 200), "address": check_text("address", address, 500)}
    return _insert(conn, customers, "customer", values)


def add_rider(conn: sa.Connection, id: str, name: str, vehicle: str = "scooter") -> dict[str, Any]:
    values = {"id": check_id("rider", id), "name": check_text("name", name, 200), "vehicle": check_text("vehicle", vehicle, 50)}
    return _insert(conn, riders, "rider", values)


def add_menu_item(conn: sa.Connection, store_id: str, id: str, name: str, price: int) -> dict[str, Any]:
    get_store(conn, check_id("store", store_id, field="store"))
    if isinstance(price, bool) or not isinstance(price, int) or not 0 < price <= MAX_PRICE:
        raise InvalidInput(f"price must be a whole number of minor units between 1 and {MAX_PRICE:,}", field="price")
    values = {
        "id": check_id("menu item", id),
        "store_id": store_id,
        "name": check_text("name", name, 200),
        "price": price,
        "available": True,
    }
    return _insert(conn, menu_items, "menu item", values)


DEMO_STORES = [
    ("pizza-palace", "Pizza Palace", "12 Olive St", [
        ("margherita", "Margherita pizza", 18000), ("pepperoni", "Pepperoni pizza", 21000),
        ("garlic-bread", "Garlic bread", 6000), ("cola", "Cola", 2000)]),
    ("seoul-bbq", "Seoul BBQ", "3 Hangang-ro", [
        ("bulgogi", "Bulgogi set", 16000), ("bibimbap", "Bibimbap", 11000),
        ("japchae", "Japchae", 9000), ("sikhye", "Sikhye", 3000)]),
    ("green-bowl", "Green Bowl", "88 Garden Ave", [
        ("caesar", "Caesar salad", 12000), ("poke", "Salmon poke bowl", 15000),
        ("smoothie", "Berry smoothie", 6500)]),
]
DEMO_CUSTOMERS = [
    ("alice", "Alice Kim", "101 Maple Rd, apt 4"),
    ("bob", "Bob Lee", "22 Pine St"),
    ("carol", "Carol Park", "7 Birch Ln"),
    ("dave", "Dave Choi", "45 Cedar Ave, unit 2"),
    ("erin", "Erin Jung", "9 Elm Ct"),
]
DEMO_RIDERS = [("rider-kim", "Minsu Kim", "scooter"), ("rider-lee", "Jiwoo Lee", "bicycle"), ("rider-park", "Hana Park", "car")]


def seed_demo(conn: sa.Connection) -> dict[str, int]:
    """Add the demo stores, menus, customers and riders that are not there yet (another process
    adding them at the same time is fine: each row is added once)."""
    added = {"stores": 0, "menu_items": 0, "customers": 0, "riders": 0}
    existing = {t.name: set(conn.execute(sa.select(t.c.id)).scalars()) for t in (stores, menu_items, customers, riders)}

    def add(table: sa.Table, kind: str, values: dict[str, Any]) -> None:
        if values["id"] not in existing[table.name] and _add_row(conn, table, kind, values):
            added[table.name] += 1

    for store_id, name, address, menu in DEMO_STORES:
        add(stores, "store", {"id": store_id, "name": name, "address": address})
        for item_id, item_name, price in menu:
            add(menu_items, "menu item", {"id": item_id, "store_id": store_id, "name": item_name, "price": price, "available": True})
    for customer_id, name, address in DEMO_CUSTOMERS:
        add(customers, "customer", {"id": customer_id, "name": name, "address": address})
    for rider_id, name, vehicle in DEMO_RIDERS:
        add(riders, "rider", {"id": rider_id, "name": name, "vehicle": vehicle})
    return added
