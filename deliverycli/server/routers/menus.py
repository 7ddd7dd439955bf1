"""``/menus``: every token reads the menus; a store (or ops) adds items to its own, and marks them
sold out or available again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from ...engine.catalog import MAX_PRICE
from ...engine.views import MenuItem
from ..auth import ActorDep, EngineDep, StoreOrOps, own_id
from ..errors import problem_responses
from ..params import Id, MenuItemId

router = APIRouter(tags=["menus"], responses=problem_responses(401, 403, 404, 422, 503))
ItsStore = Annotated[Id | None, Query(description="the item's store (a store token: its own, the default; ops: required)")]


class NewMenuItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id
    name: str = Field(min_length=1, max_length=200)
    price: int = Field(ge=1, le=MAX_PRICE, description="in minor units of the currency")
    store_id: Id | None = Field(None, description="the store (a store token: its own, the default; ops: required)")


@router.get("/menus")
def list_menus(actor: ActorDep, engine: EngineDep, store_id: Id | None = None) -> list[MenuItem]:
    """Every menu item, or one store's (any token)."""
    return engine.catalog.menu(store_id)


@router.post("/menus", status_code=201, responses=problem_responses(409, 413))
def add_menu_item(body: NewMenuItem, actor: StoreOrOps, engine: EngineDep) -> MenuItem:
    """Add an item to a store's menu (that store's token, or ops); 409 if the id is taken by another item."""
    return engine.catalog.add_menu_item(own_id(actor, body.store_id, "store"), body.id, body.name, body.price)


@router.post("/menus/{item_id}/sold-out")
def mark_sold_out(item_id: MenuItemId, actor: StoreOrOps, engine: EngineDep, store_id: ItsStore = None) -> MenuItem:
    """Mark one of the store's items sold out: ordering it answers 409 until it is available again."""
    return engine.catalog.sold_out(item_id, own_id(actor, store_id, "store"))


@router.post("/menus/{item_id}/available")
def mark_available(item_id: MenuItemId, actor: StoreOrOps, engine: EngineDep, store_id: ItsStore = None) -> MenuItem:
    """Mark one of the store's sold-out items available again."""
    return engine.catalog.available(item_id, own_id(actor, store_id, "store"))
