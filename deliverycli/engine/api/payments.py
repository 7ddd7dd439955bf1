"""``engine.payments``: ``/payments``: each order's payment, and the payment circuit breaker."""

from __future__ import annotations

from ..views import Breaker, PaymentView
from ._base import PaymentViews, _Group


class Payments(_Group):
    """``/payments``: each order's payment, and the payment circuit breaker."""

    def get(self, order_id: str) -> PaymentView:
        from ..payment.records import get_payment

        with self.engine.read() as conn:
            return get_payment(conn, order_id)

    def breaker(self) -> Breaker:
        """The payment circuit breaker that every process shares."""
        from .. import health

        settings = self.engine.settings
        with self.engine.read() as conn:
            return health.breaker_state(conn, settings.breaker_fail_max, settings.breaker_reset_timeout_s)

    def list(self, limit: int = 100) -> PaymentViews:
        """The newest payments first."""
        from ..payment.records import list_payments

        with self.engine.read() as conn:
            return list_payments(conn, limit)
