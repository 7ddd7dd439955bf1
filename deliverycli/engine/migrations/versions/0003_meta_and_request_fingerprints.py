"""meta (the currency the database keeps prices in) and orders.request_fingerprint (an idempotency
key reused with another request is a conflict, not the first order again)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    meta = op.create_table(
        "meta",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_meta")),
    )
    # A database with orders already has a currency: keep it (init records one on an empty database).
    currencies = op.get_bind().execute(sa.text("SELECT DISTINCT currency FROM orders")).scalars().all()
    if len(currencies) == 1:
        op.bulk_insert(meta, [{"name": "currency", "value": currencies[0]}])
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("request_fingerprint")
    op.drop_table("meta")
