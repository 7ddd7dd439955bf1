"""Domain errors. Each carries the CLI exit code of SPEC §8, so the mapping lives in one place."""

from __future__ import annotations

import re
import sys

# A quoted value this long in a message is someone's input echoed back (a 10,000-character id):
# keep its start and say how long it was, so the message stays readable.
_LONG_QUOTED = re.compile(r"""(['"])([^'"]{80,})\1""")
MAX_MESSAGE = 1000


def shorten(message: str) -> str:
    message = _LONG_QUOTED.sub(lambda m: f"{m[1]}{m[2][:40]}…{m[1]} ({len(m[2]):,} characters)", message)
    return message if len(message) <= MAX_MESSAGE else f"{message[:MAX_MESSAGE - 40]}… ({len(message):,} characters)"


# What a caller can do about an error, for a front end to put in its own words (the engine does
# not name CLI commands or flags): initialise or upgrade the database's schema in place, or install
# a newer deliverycli (the database was written by one).
REMEDY_INIT = "init"
REMEDY_UPGRADE = "upgrade"
REMEDY_RETRY_DEAD_LETTERS = "retry_dead_letters"  # an operator retries the parked events first


class DeliveryError(Exception):
    """Base of every error a user can cause; never shown as a traceback.

    ``field`` names the input at fault (``"items"``, ``"card"``, ``"address"``...), ``remedy`` what
    to do about it (``REMEDY_INIT``, ``REMEDY_UPGRADE``, ``REMEDY_RETRY_DEAD_LETTERS``); both are None
    when they do not apply.
    """

    exit_code = 1
    code = "error"

    def __init__(self, message: str, *, field: str | None = None, remedy: str | None = None) -> None:
        message = shorten(message)
        super().__init__(message)
        self.message = message
        self.field = field
        self.remedy = remedy


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


class NotYet(Conflict):
    """Too early: what the command acts on has not caught up with the event that made it due
    (a deadline's timer fired before its subscriber ran). Try again a little later."""


class CancellationRefused(IllegalTransition):
    """A cancellation refused because the order is past the point of no return, said in people's
    words ("the store has already started cooking, so it can't be cancelled now")."""

    def __init__(self, order_id: str, current: str, why: str) -> None:
        Conflict.__init__(self, f"Order {order_id} was not cancelled: {why}.")
        self.subject_id, self.current, self.allowed, self.why = order_id, current, [], why


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

    def __init__(self, message: str, *, reason: str = "unavailable", remedy: str | None = None) -> None:
        super().__init__(message, remedy=remedy)
        # what is wrong, for a report to act on: busy, timeout, unreachable, full, read_only,
        # corrupt, io, schema (another schema revision), or unavailable (anything else)
        self.reason = reason


# (reason, what the user is told, SQLite's message fragments, PostgreSQL's SQLSTATEs)
_UNAVAILABLE = (
    ("busy", "the database is busy: another process held its lock longer than the busy timeout",
     ("database is locked", "database table is locked", "database is busy"), ("55P03", "40P01")),
    ("timeout", "the database did not answer within the statement timeout", (), ("57014",)),
    ("full", "the disk holding the database is full", ("database or disk is full",), ("53100",)),
    ("read_only", "the database is read-only", ("readonly database", "read-only"), ("25006",)),
    ("corrupt", "the database file is damaged or is not a database", ("malformed", "not a database"), ("XX001", "XX002")),
    ("io", "the database cannot be read or written (an I/O error)", ("disk i/o error",), ("58030",)),
    ("unreachable", "the database cannot be opened", ("unable to open database file",), ()),
    ("unreachable", "the database server is unreachable", (), ("57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006")),
)
_UNREACHABLE_TEXT = ("connection refused", "could not connect", "timeout expired", "server closed the connection", "connection is closed",
                     "could not translate host name", "name or service not known", "no route to host", "connection timed out", "consuming input failed")


def unavailable_database(exc: BaseException) -> DatabaseUnavailable | None:
    """The database error ``exc`` in the user's words (exit 7), or None when the database's state
    does not explain it (a constraint, a malformed statement: a bug)."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if "sqlalchemy" not in sys.modules:  # nothing from the database has run: not a database error
        return None
    import sqlalchemy as sa

    if isinstance(exc, (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.DataError, sa.exc.NotSupportedError)):
        return None
    if not isinstance(exc, sa.exc.DBAPIError):
        return None
    text = first_line(exc)
    lowered = text.lower()
    sqlstate = getattr(exc.orig, "sqlstate", None)
    for reason, told, fragments, states in _UNAVAILABLE:
        if sqlstate in states or any(f in lowered for f in fragments):
            return DatabaseUnavailable(f"{told} ({text})", reason=reason)
    if isinstance(exc, sa.exc.InternalError):  # e.g. "current transaction is aborted": a bug's consequence
        return None
    if any(f in lowered for f in _UNREACHABLE_TEXT):
        return DatabaseUnavailable(f"the database server is unreachable ({text})", reason="unreachable")
    return DatabaseUnavailable(f"database error: {text}")


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


class ConcurrencyConflict(Exception):
    """An aggregate changed under us; the message bus retries the command on a fresh read."""
