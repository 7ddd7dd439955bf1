"""timers: durable deadlines (acceptance, pickup alert, auto-confirm), each written with the event that starts it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

import deliverycli.engine.storage

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Orders already under way get no timers: a deadline starts with an event recorded from now on,
    # so an upgrade never rejects or confirms old orders all at once.
    op.create_table(
        "timers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_at", deliverycli.engine.storage.UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", deliverycli.engine.storage.UTCDateTime(), nullable=False),
        sa.Column("created_by_event", sa.BigInteger(), nullable=False),
        sa.Column("settled_at", deliverycli.engine.storage.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
        sa.UniqueConstraint("order_id", "kind", name=op.f("uq_timers_order_id")),
    )
    op.create_index("ix_timers_state_due", "timers", ["state", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_timers_state_due", table_name="timers")
    op.drop_table("timers")
