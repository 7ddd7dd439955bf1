"""deliverycli: a terminal operations console for a food order-and-delivery business.

Library use::

    import deliverycli
    with deliverycli.open_engine("orders.db") as engine:
        order = engine.orders.place("alice", "pizza-palace", ["margherita:2"], "101 Maple Rd")
        print(order.id, order.status, engine.orders.status(order.id).timeline)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Engine", "open_engine", "initialise", "__version__"]

if TYPE_CHECKING:
    from .engine.bootstrap import Engine


def open_engine(db: str | None = None, **overrides: Any) -> Engine:
    """Open the engine on an initialised database (a file path or URL)."""
    from .engine.bootstrap import open_engine as _open

    return _open(db, **overrides)


def initialise(db: str | None = None, *, demo: bool = False, **overrides: Any) -> Engine:
    """Create or upgrade a database (optionally with demo data) and return an open engine."""
    from .engine.bootstrap import Engine
    from .settings import load_settings

    engine, _ = Engine.initialise(load_settings(db=db, **overrides), demo=demo)
    return engine


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from .engine.bootstrap import Engine

        return Engine
    raise AttributeError(name)
