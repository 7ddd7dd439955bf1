"""Payment: the payment provider port (``port``), our record of payments and the refund step of the
cancel saga (``records``), the synchronous payment call behind a timeout and a circuit breaker
(``service``, ``breaker``, ``breaker_storage``), and a simulated provider (``simulated``).

Only the port's names are imported here, so reading payments never loads the breaker library.
"""

from .port import DEFAULT_CARD, TEST_CARDS, VOIDED_MESSAGE, CardDeclined, GatewayCharge, GatewayUnavailable, PaymentGateway

__all__ = ["DEFAULT_CARD", "TEST_CARDS", "VOIDED_MESSAGE", "CardDeclined", "GatewayCharge", "GatewayUnavailable", "PaymentGateway"]
