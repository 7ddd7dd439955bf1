"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
import deliverycli.engine.storage

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('circuit_breakers',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('fail_counter', sa.Integer(), nullable=False),
    sa.Column('success_counter', sa.Integer(), nullable=False),
    sa.Column('opened_at', deliverycli.engine.storage.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_circuit_breakers'))
    )
    op.create_table('customers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers'))
    )
    op.create_table('dead_letters',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subscriber', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('parked_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', deliverycli.engine.storage.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters')),
    sa.UniqueConstraint('subscriber', 'event_id', name=op.f('uq_dead_letters_subscriber'))
    )
    op.create_table('deliveries',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rider_id', sa.String(length=64), nullable=True),
    sa.Column('requested_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.Column('picked_up_at', deliverycli.engine.storage.UTCDateTime(), nullable=True),
    sa.Column('completed_at', deliverycli.engine.storage.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_deliveries'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_rider_status', ['rider_id', 'status'], unique=False)
        batch_op.create_index('ix_deliveries_status_requested', ['status', 'requested_at'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('schema_version', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('context', sa.String(length=32), nullable=False),
    sa.Column('occurred_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.Column('payload', deliverycli.engine.storage.JSONType(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_order_id'), ['order_id'], unique=False)

    op.create_table('notification_orders',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('rider_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('resume_status', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_notification_orders'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('recipient_type', sa.String(length=16), nullable=False),
    sa.Column('recipient_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('created_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('event_id', 'recipient_type', 'recipient_id', name=op.f('uq_notifications_event_id'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_notifications_recipient', ['recipient_type', 'recipient_id', 'id'], unique=False)

    order_numbers = op.create_table('order_numbers',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('last', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_order_numbers'))
    )
    op.bulk_insert(order_numbers, [{'name': 'order', 'last': 0}])
    op.create_table('order_status',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('rider_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('resume_status', sa.String(length=32), nullable=True),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('placed_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.Column('updated_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.Column('last_event_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_order_status'))
    )
    with op.batch_alter_table('order_status', schema=None) as batch_op:
        batch_op.create_index('ix_order_status_customer', ['customer_id', 'placed_at'], unique=False)
        batch_op.create_index('ix_order_status_status_updated', ['status', 'updated_at'], unique=False)
        batch_op.create_index('ix_order_status_store', ['store_id', 'placed_at'], unique=False)

    op.create_table('order_timeline',
    sa.Column('event_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_order_timeline'))
    )
    with op.batch_alter_table('order_timeline', schema=None) as batch_op:
        batch_op.create_index('ix_order_timeline_order', ['order_id', 'event_id'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('resume_status', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('placed_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.Column('updated_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_store_id'), ['store_id'], unique=False)

    op.create_table('payments',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('charge_id', sa.String(length=64), nullable=True),
    sa.Column('refund_id', sa.String(length=64), nullable=True),
    sa.Column('card_suffix', sa.String(length=4), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.Column('refunded_at', deliverycli.engine.storage.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_payments'))
    )
    op.create_table('riders',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('vehicle', sa.String(length=50), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_riders'))
    )
    op.create_table('store_orders',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('items', deliverycli.engine.storage.JSONType(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('received_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.Column('updated_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_store_orders'))
    )
    with op.batch_alter_table('store_orders', schema=None) as batch_op:
        batch_op.create_index('ix_store_orders_store_status', ['store_id', 'status', 'received_at'], unique=False)

    op.create_table('stores',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stores'))
    )
    op.create_table('subscriber_failures',
    sa.Column('subscriber', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('failed_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('subscriber', 'event_id', name=op.f('pk_subscriber_failures'))
    )
    op.create_table('tracking',
    sa.Column('subscriber', sa.String(length=64), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', deliverycli.engine.storage.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('subscriber', name=op.f('pk_tracking'))
    )
    op.create_table('menu_items',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('price', sa.Integer(), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_menu_items_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_menu_items'))
    )
    with op.batch_alter_table('menu_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_menu_items_store_id'), ['store_id'], unique=False)

    op.create_table('order_lines',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('menu_item_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit_price', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders')),
    sa.PrimaryKeyConstraint('order_id', 'line_no', name=op.f('pk_order_lines'))
    )


def downgrade() -> None:
    op.drop_table('order_lines')
    with op.batch_alter_table('menu_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_menu_items_store_id'))

    op.drop_table('menu_items')
    op.drop_table('tracking')
    op.drop_table('subscriber_failures')
    op.drop_table('stores')
    with op.batch_alter_table('store_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_store_orders_store_status')

    op.drop_table('store_orders')
    op.drop_table('riders')
    op.drop_table('payments')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_store_id'))
        batch_op.drop_index(batch_op.f('ix_orders_status'))
        batch_op.drop_index(batch_op.f('ix_orders_customer_id'))

    op.drop_table('orders')
    with op.batch_alter_table('order_timeline', schema=None) as batch_op:
        batch_op.drop_index('ix_order_timeline_order')

    op.drop_table('order_timeline')
    with op.batch_alter_table('order_status', schema=None) as batch_op:
        batch_op.drop_index('ix_order_status_store')
        batch_op.drop_index('ix_order_status_status_updated')
        batch_op.drop_index('ix_order_status_customer')

    op.drop_table('order_status')
    op.drop_table('order_numbers')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_recipient')
        batch_op.drop_index(batch_op.f('ix_notifications_order_id'))

    op.drop_table('notifications')
    op.drop_table('notification_orders')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_order_id'))

    op.drop_table('events')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_status_requested')
        batch_op.drop_index('ix_deliveries_rider_status')

    op.drop_table('deliveries')
    op.drop_table('dead_letters')
    op.drop_table('customers')
    op.drop_table('circuit_breakers')
