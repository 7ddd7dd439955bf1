"""Every context's tables on one MetaData, for migrations and tests."""

from . import catalog, delivery, eventlog, notification, ordering, payment, simulation, status, store  # noqa: F401  (register tables)
from .storage import metadata

__all__ = ["metadata"]
