"""orders.idempotency_key (a retried placement returns the same order), simulation runs, and an
index that pages `orders list --status X` instead of sorting every order in that status

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import deliverycli.engine.storage

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f("ix_orders_idempotency_key"), ["idempotency_key"], unique=True)
    op.create_table(
        "simulation_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("options", deliverycli.engine.storage.JSONType(), nullable=False),
        sa.Column("started_at", deliverycli.engine.storage.UTCDateTime(), nullable=False),
        sa.Column("finished_at", deliverycli.engine.storage.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_simulation_runs")),
    )
    op.create_index("ix_order_status_status_placed", "order_status", ["status", "placed_at", "order_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_order_status_status_placed", table_name="order_status")
    op.drop_table("simulation_runs")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_idempotency_key"))
        batch_op.drop_column("idempotency_key")
