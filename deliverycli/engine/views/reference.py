"""Reference data (the catalog): stores, customers, riders, menu items."""

from pydantic import Field

from .model import ReadModel


class Store(ReadModel):
    id: str
    name: str
    address: str
    prep_min: int = Field(15, description="the store's usual preparation time in minutes (accepting without one uses it)")
    paused: bool = Field(False, description="the store takes no orders while paused")
    pause_reason: str | None = None


class Customer(ReadModel):
    id: str
    name: str
    address: str


class Rider(ReadModel):
    id: str
    name: str
    vehicle: str


class MenuItem(ReadModel):
    id: str
    store_id: str
    name: str
    price: int = Field(description="in minor units of the currency")
    available: bool
