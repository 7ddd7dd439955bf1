"""status_counts: counts by status that do not scan (status view and store tickets), backfilled from the
rows; ix_order_status_placed: an unfiltered page of orders (keyset pagination) is an index range

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The backfill as this revision knows it (deliverycli.engine.counters.backfill_sql at the time):
# kept here so later changes to the module do not change what this migration did.
BACKFILL = [
    "INSERT INTO status_counts (scope, key, status, n) SELECT 'orders', '', status, count(*) FROM order_status GROUP BY status",
    "INSERT INTO status_counts (scope, key, status, n) SELECT 'customer', customer_id, status, count(*) FROM order_status GROUP BY customer_id, status",
    "INSERT INTO status_counts (scope, key, status, n) SELECT 'store', store_id, status, count(*) FROM order_status GROUP BY store_id, status",
    "INSERT INTO status_counts (scope, key, status, n) SELECT 'ticket', store_id, status, count(*) FROM store_orders GROUP BY store_id, status",
]


def upgrade() -> None:
    op.create_table(
        "status_counts",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", "status", name=op.f("pk_status_counts")),
    )
    for sql in BACKFILL:
        op.execute(sql)
    with op.batch_alter_table("order_status", schema=None) as batch_op:
        batch_op.create_index("ix_order_status_placed", ["placed_at", "order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_status", schema=None) as batch_op:
        batch_op.drop_index("ix_order_status_placed")
    op.drop_table("status_counts")
