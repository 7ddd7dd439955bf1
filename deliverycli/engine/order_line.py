"""A line of an order: what event payloads (``OrderPlaced``) and read models (``OrderView``) carry.

Its own module so that a read model can name it without importing every event model.
"""

from pydantic import BaseModel, ConfigDict


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    menu_item_id: str
    name: str
    unit_price: int
    quantity: int
