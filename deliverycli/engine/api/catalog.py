"""``engine.catalog``: ``/menus`` and the reference data every context reads: stores, customers, riders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import catalog
from ..views import Customer, MenuItem, Rider, Store
from ._base import _Group


class Catalog(_Group):
    """``/menus`` and the reference data every context reads: stores, customers, riders."""

    def stores(self) -> list[Store]:
        with self.engine.read() as conn:
            return catalog.list_stores(conn)

    def customers(self) -> list[Customer]:
        with self.engine.read() as conn:
            return catalog.list_customers(conn)

    def riders(self) -> list[Rider]:
        with self.engine.read() as conn:
            return catalog.list_riders(conn)

    def menu(self, store_id: str | None = None) -> list[MenuItem]:
        """Every menu item, or one store's."""
        with self.engine.read() as conn:
            return catalog.list_menu(conn, store_id)

    def add_store(self, id: str, name: str, address: str, prep_min: int = catalog.DEFAULT_PREP_MIN) -> Store:
        """Add a store; ``prep_min`` is its usual preparation time (used when accepting without one)."""
        with self.engine.write() as conn:
            return catalog.add_store(conn, id, name, address, prep_min)

    def store(self, store_id: str) -> Store:
        """One store, with whether it is paused."""
        with self.engine.read() as conn:
            return catalog.get_store(conn, store_id)

    def sold_out(self, item_id: str, store_id: str) -> MenuItem:
        """Mark a store's menu item sold out: ordering it is refused until it is available again."""
        with self.engine.write() as conn:
            return catalog.set_item_available(conn, store_id, item_id, False)

    def available(self, item_id: str, store_id: str) -> MenuItem:
        """Mark a sold-out menu item available again."""
        with self.engine.write() as conn:
            return catalog.set_item_available(conn, store_id, item_id, True)

    def add_customer(self, id: str, name: str, address: str) -> Customer:
        return Customer(**self._write(catalog.add_customer, id, name, address))

    def add_rider(self, id: str, name: str, vehicle: str = "scooter") -> Rider:
        return Rider(**self._write(catalog.add_rider, id, name, vehicle))

    def add_menu_item(self, store_id: str, id: str, name: str, price: int) -> MenuItem:
        """Add an item (price in minor units) to a store's menu."""
        return MenuItem(**self._write(catalog.add_menu_item, store_id, id, name, price))

    def _write(self, add: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        with self.engine.write() as conn:
            return add(conn, *args)
