"""The port to a payment provider, and what every provider must understand. The order id is the
idempotency key of every call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# Documented test cards (the simulated provider's, and the HTTP provider's); any other well-formed
# number is approved.
TEST_CARDS = {
    "4242424242424242": "approve",
    "4000000000000002": "decline",
    "4000000000009995": "decline_insufficient_funds",
    "4000000000000119": "fail",
}
DEFAULT_CARD = "4242424242424242"


class CardDeclined(Exception):
    """The issuer said no: a business answer, which does not trip the breaker."""


VOIDED_MESSAGE = "the payment was cancelled"  # what a charge with a voided key is declined with


class GatewayUnavailable(Exception):
    """The provider could not answer (outage, error, timeout)."""


@dataclass(frozen=True)
class GatewayCharge:
    """A charge as the provider records it."""

    charge_id: str
    amount: int
    card_suffix: str
    refund_id: str | None = None
    refunded_at: datetime | None = None


class PaymentGateway(Protocol):
    """A payment provider. Every call is idempotent on ``key``."""

    def charge(self, key: str, amount: int, card_number: str, timeout: float) -> GatewayCharge:
        """Charge once per key (a repeated key answers with the first charge); raises CardDeclined or GatewayUnavailable."""
        ...

    def refund(self, key: str, amount: int, timeout: float) -> str:
        """Refund the key's charge once; returns the refund id."""
        ...

    def lookup(self, key: str) -> GatewayCharge | None:
        """The key's charge, if the provider made one."""
        ...

    def void(self, key: str, timeout: float) -> GatewayCharge | None:
        """Refuse any charge with ``key`` from now on; if it was charged already, return that charge
        (and void nothing). Idempotent. After it returns None, "not charged" is true for good."""
        ...
