"""An event as the notification log holds it: its payload, and beside it the sequence number, actor and time.

Its own module so that reading the log (a status query, say) does not import the event models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the notification log holds it."""

    id: int
    event_type: str
    schema_version: int
    order_id: str
    actor: str
    context: str
    occurred_at: datetime
    payload: dict[str, Any]
