"""The event log, as queries and the relay show it."""

from typing import TYPE_CHECKING, Any

from .model import ReadModel, Timestamp

if TYPE_CHECKING:
    from ..events import StoredEvent


class EventView(ReadModel):
    """A stored event: its global sequence number, type, order, actor, time and payload."""

    id: int
    event_type: str
    schema_version: int
    order_id: str
    actor: str
    context: str
    occurred_at: Timestamp
    payload: dict[str, Any]

    @classmethod
    def of(cls, event: "StoredEvent") -> "EventView":
        return cls(
            id=event.id, event_type=event.event_type, schema_version=event.schema_version, order_id=event.order_id,
            actor=event.actor, context=event.context, occurred_at=event.occurred_at, payload=event.payload,
        )

    @staticmethod
    def json_bytes(event: "StoredEvent") -> bytes:
        """The event as one line of `deliverycli events tail --json` (the body the relay and webhooks send)."""
        import json

        return json.dumps(EventView.of(event).model_dump(mode="json"), ensure_ascii=False).encode()
