"""The engine's typed API, one group per route of the seed's gateway.

``engine.orders``, ``engine.store``, ``engine.deliveries``, ``engine.payments``, ``engine.catalog``,
``engine.notifications``, ``engine.events``, ``engine.ops``, ``engine.timers``, ``engine.tokens`` and ``engine.webhooks``, one module each: each command builds a command and
hands it to the message bus (``engine.handle``); each query reads in one read-only transaction
(``engine.read()``). Every result is a typed read model from ``views``. The CLI, the console and the
HTTP gateway are thin layers over these groups. A new group: a module here, a line in
``bootstrap.Engine.__init__``.
"""

from ..views import CatchUp
from .catalog import Catalog
from .deliveries import Deliveries
from .events import Events
from .notifications import Notifications
from .ops import Ops
from .orders import Orders
from .payments import Payments
from .store import StoreOrders
from .timers import Timers
from .tokens import Tokens
from .webhooks import Webhooks

__all__ = ["Catalog", "Deliveries", "Events", "Notifications", "Ops", "Orders", "Payments", "StoreOrders", "Timers", "Tokens", "Webhooks", "CatchUp"]
