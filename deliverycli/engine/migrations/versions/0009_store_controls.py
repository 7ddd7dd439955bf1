"""store controls: ticket states after READY (PICKED_UP, DONE), preparation time and the ready
estimate, paused stores, the status view's estimate, and the riders on the road for notifications

Data: tickets whose order moved past READY (a rider picked it up, or delivered it) are moved to
PICKED_UP or DONE, as the store subscriber now does when it follows the delivery's events.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

import deliverycli.engine.storage

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The delivery's status -> the ticket's, for tickets still READY.
MOVED = (("PICKED_UP", "PICKED_UP"), ("COMPLETED", "DONE"))


def upgrade() -> None:
    with op.batch_alter_table("stores") as batch:
        batch.add_column(sa.Column("prep_min", sa.Integer(), server_default="15", nullable=False))
        batch.add_column(sa.Column("paused_at", deliverycli.engine.storage.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("pause_reason", sa.String(length=200), nullable=True))
    with op.batch_alter_table("store_orders") as batch:
        batch.add_column(sa.Column("prep_min", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("ready_at", deliverycli.engine.storage.UTCDateTime(), nullable=True))
    with op.batch_alter_table("order_status") as batch:
        batch.add_column(sa.Column("ready_at", deliverycli.engine.storage.UTCDateTime(), nullable=True))
    op.create_index("ix_notification_orders_status_rider", "notification_orders", ["status", "rider_id"])
    op.create_index("ix_store_orders_store_status_updated", "store_orders", ["store_id", "status", "updated_at"])
    for delivery_status, ticket_status in MOVED:
        op.execute(
            sa.text(
                "UPDATE store_orders SET status = :ticket, version = version + 1 WHERE status = 'READY' AND order_id IN "
                "(SELECT order_id FROM deliveries WHERE status = :delivery)"
            ).bindparams(ticket=ticket_status, delivery=delivery_status)
        )


def _drop_columns(table: str, *columns: str) -> None:
    """ALTER TABLE ... DROP COLUMN, also on SQLite (3.35+): a batch would copy the table, and
    dropping ``stores`` to copy it breaks the menu items' foreign key."""
    for column in columns:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))
        else:
            op.drop_column(table, column)


def downgrade() -> None:
    op.execute(sa.text("UPDATE store_orders SET status = 'READY' WHERE status IN ('PICKED_UP', 'DONE')"))
    op.drop_index("ix_notification_orders_status_rider", table_name="notification_orders")
    op.drop_index("ix_store_orders_store_status_updated", table_name="store_orders")
    _drop_columns("order_status", "ready_at")
    _drop_columns("store_orders", "ready_at", "prep_min")
    _drop_columns("stores", "pause_reason", "paused_at", "prep_min")
