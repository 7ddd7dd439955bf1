"""``engine.notifications``: The notifications sent on every status change, per recipient."""

from __future__ import annotations

from .. import catalog
from ._base import NotificationViews, _Group


class Notifications(_Group):
    """The notifications sent on every status change, per recipient."""

    def list(self, recipient_type: str | None = None, recipient_id: str | None = None, after: int = 0, limit: int = 100) -> NotificationViews:
        """Notifications oldest first (a recipient's own, if named); ``after`` pages forward by id."""
        from ..notification import list_notifications

        with self.engine.read() as conn:
            if recipient_type is not None and recipient_type != "operations":  # operations: the ops team, not in the catalog
                {"customer": catalog.get_customer, "store": catalog.get_store, "rider": catalog.get_rider}[recipient_type](conn, recipient_id)
            return list_notifications(conn, recipient_type, recipient_id, after, limit)
