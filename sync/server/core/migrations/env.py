"""Alembic environment for town.db, driven from code (sync.server.core.db.migrate).

The caller passes an open connection in ``config.attributes["connection"]``;
there is no alembic.ini.
"""
from alembic import context

from sync.server.core.db import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through sync.server.core.db.migrate(engine)")

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
