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

    def add_store(self, id: str, name: str, address: str) -> Store:
        return Store(**self._write(catalog.add_store, id, name, address))

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
