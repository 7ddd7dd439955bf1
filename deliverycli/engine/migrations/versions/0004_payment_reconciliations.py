"""payment_reconciliations: payments whose outcome the provider could not confirm (a call cut off
and its key not voided), to be checked with the provider, and any late charge refunded once

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_reconciliations",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=True),
        sa.Column("result", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_payment_reconciliations")),
    )
    op.create_index("ix_payment_reconciliations_due", "payment_reconciliations", ["checked_at", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_payment_reconciliations_due", table_name="payment_reconciliations")
    op.drop_table("payment_reconciliations")
