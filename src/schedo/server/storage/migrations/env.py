"""Alembic environment: always run programmatically by schedo.server.storage.migrate."""

from __future__ import annotations

from alembic import context

from schedo.server.storage.schema import metadata
from schedo.server.storage.schema_types import with_postgresql_options

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline mode is not supported
    raise RuntimeError("run migrations through `schedo serve` (storage.migrate)")

if connection.dialect.name == "postgresql":
    with_postgresql_options()  # the partial indexes' conditions, as declared (schema_types.py)
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
