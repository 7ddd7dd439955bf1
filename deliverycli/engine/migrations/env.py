"""Alembic environment: migrations run on the connection the engine hands over (see storage.migrate)."""

from alembic import context

from deliverycli.engine import schema

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=schema.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
