"""Path, query and header parameters several routers share, with the engine's own bounds."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

from ..engine.validation import ID_PATTERN

ID_REGEX = f"^{ID_PATTERN.pattern}$"
MAX_OFFSET = 2**31  # past 64 bits the databases' integers overflow; no one pages that far

# Ids as the catalog writes them and order ids are made: refused at the door otherwise (a NUL in an
# id would reach PostgreSQL, which cannot hold one in text).
Id = Annotated[str, Field(pattern=ID_REGEX, max_length=64)]
OrderId = Annotated[str, Path(pattern=ID_REGEX, max_length=64, description="an order id, e.g. ord-000001")]
StoreId = Annotated[str, Path(pattern=ID_REGEX, max_length=64, description="a store id, e.g. pizza-palace")]
MenuItemId = Annotated[str, Path(pattern=ID_REGEX, max_length=64, description="a menu item id, e.g. margherita")]
Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="skip this many (paging)")]
