"""Every context's tables on one MetaData, for migrations and tests."""

from . import catalog, counters, delivery, eventlog, identity, notification, simulation, status, store, webhooks, workers  # noqa: F401  (register tables)
from .deadlines import timers  # noqa: F401
from .ordering import repository  # noqa: F401
from .payment import breaker, records  # noqa: F401
from .storage import metadata

__all__ = ["metadata"]
