"""Deadlines: durable timers that make things happen on time.

Three deadlines (SPEC-facing, settings ``accept_timeout_s``, ``pickup_alert_s``, ``confirm_timeout_s``;
0 disables one):

- **acceptance**: a ticket the store has not accepted in time is rejected by the system ("not
  accepted in time"), which refunds it and cancels the order as any store rejection does;
- **pickup**: a delivery no rider has picked up in time is announced to the store and operations
  (``PickupOverdue``; nothing is cancelled);
- **confirm**: a delivered order the customer has not confirmed is confirmed by the system.

``timers`` (this package's table) is written by the unit of work's commit hook (``timers.Scheduler``)
in the transaction that appends the event starting (or ending) a deadline, so a timer exists exactly
when its event does. ``firing`` claims due timers (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, SQLite's
single writer otherwise) and runs the deadline's command in the same transaction that marks the
timer fired: exactly once, whichever process gets there first.
"""

from .timers import KINDS, Deadlines, Scheduler

__all__ = ["KINDS", "Deadlines", "Scheduler"]
