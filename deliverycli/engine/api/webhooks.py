"""``engine.webhooks``: endpoints that receive the event log over HTTP (signed, Standard Webhooks), and their deliveries."""

from __future__ import annotations

from collections.abc import Sequence

from ..outside_views import IssuedWebhook, Webhook, WebhookDelivery
from ._base import _Group


class Webhooks(_Group):
    """Endpoints that receive the event log over HTTP, and every attempt to send them an event.

    Sending is not done here: a sender (`deliverycli webhooks deliver`, `serve`, the worker) runs
    ``deliverycli.integrations.webhooks.WebhookDispatcher`` (needs httpx and stamina)."""

    def add(self, url: str, event_types: Sequence[str] | None = None, secret: str | None = None) -> IssuedWebhook:
        """Add an endpoint for the events appended from now on (``event_types``: only those); its
        signing secret (given, or generated) is returned only here."""
        from .. import webhooks

        with self.engine.write() as conn:
            return webhooks.create(conn, url, event_types, secret, self.engine.clock.now())

    def list(self) -> list[Webhook]:
        from .. import webhooks

        with self.engine.read() as conn:
            return webhooks.list_webhooks(conn)

    def get(self, webhook_id: str) -> Webhook:
        from .. import webhooks

        with self.engine.read() as conn:
            return webhooks.get(conn, webhook_id)

    def remove(self, webhook_id: str) -> tuple[Webhook, int]:
        """Remove an endpoint; returns it and how many of its waiting dead letters were dropped."""
        from .. import webhooks

        with self.engine.write() as conn:
            return webhooks.remove(conn, webhook_id)

    def deliveries(self, webhook_id: str | None = None, failed: bool = False, limit: int = 100) -> list[WebhookDelivery]:
        """The newest ``limit`` delivery attempts, oldest first (of one webhook; only failed ones)."""
        from .. import webhooks

        with self.engine.read() as conn:
            if webhook_id is not None:
                webhooks.get(conn, webhook_id)  # NotFound for an unknown webhook
            return webhooks.deliveries(conn, webhook_id, failed, limit)

    def redeliver(self, webhook_id: str, event_id: int) -> str | None:
        """Send one event to one webhook once more (one attempt, recorded); the error, or None when it was accepted."""
        from ...integrations import require_extra

        require_extra("httpx", "webhooks")
        require_extra("stamina", "webhooks")
        from ...integrations.webhooks import redeliver

        return redeliver(self.engine, webhook_id, event_id)
