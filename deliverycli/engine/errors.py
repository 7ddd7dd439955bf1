"""Domain errors. Each carries the CLI exit code of SPEC §8, so the mapping lives in one place."""

from __future__ import annotations

import re

# A quoted value this long in a message is someone's input echoed back (a 10,000-character id):
# keep its start and say how long it was, so the message stays readable.
_LONG_QUOTED = re.compile(r"""(['"])([^'"]{80,})\1""")
MAX_MESSAGE = 1000


def shorten(message: str) -> str:
    message = _LONG_QUOTED.sub(lambda m: f"{m[1]}{m[2][:40]}…{m[1]} ({len(m[2]):,} characters)", message)
    return message if len(message) <= MAX_MESSAGE else f"{message[:MAX_MESSAGE - 40]}… ({len(message):,} characters)"


class DeliveryError(Exception):
    """Base of every error a user can cause; never shown as a traceback."""

    exit_code = 1
    code = "error"

    def __init__(self, message: str) -> None:
        message = shorten(message)
        super().__init__(message)
        self.message = message


class InvalidInput(DeliveryError):
    exit_code = 2
    code = "invalid_input"


class NotFound(DeliveryError):
    exit_code = 3
    code = "not_found"


class Conflict(DeliveryError):
    """The action is not allowed in the current state (includes lost races)."""

    exit_code = 4
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"

    def __init__(self, what: str, subject_id: str, current: str, attempted: str, allowed: list[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "nothing (final status)"
        super().__init__(
            f"{what} {subject_id} is {current}; cannot {attempted}. From {current} it may go to: {allowed_text}"
        )
        self.subject_id = subject_id
        self.current = current
        self.allowed = allowed


class NotPermitted(DeliveryError):
    """The actor is not the one allowed to do this (wrong customer, store or rider)."""

    exit_code = 5
    code = "not_permitted"


class PaymentFailed(DeliveryError):
    """Payment was declined or the payment service is unavailable."""

    exit_code = 6
    code = "payment_failed"

    def __init__(self, message: str, order_id: str | None = None, unavailable: bool = False) -> None:
        super().__init__(message)
        self.order_id = order_id
        self.unavailable = unavailable


class DatabaseUnavailable(DeliveryError):
    """The database is unavailable: unreachable, locked past the busy timeout, full, read-only,
    corrupt, or at a schema this version cannot use. Exit code 7 (SPEC §8): not a bug (1)."""

    exit_code = 7
    code = "database_unavailable"


class ConcurrencyConflict(Exception):
    """An aggregate changed under us; the message bus retries the command on a fresh read."""
