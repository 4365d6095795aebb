"""The audit log's table of the declared schema (split from schema.py for size, on the same
metadata; ``schema`` re-exports it)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table

from .schema_types import EpochMs, metadata

# The audit log (issue 22; migration 0009; domain/audit.py): who (the API key, by id and
# name, and the way in) did what to which object, with the changed fields' before/after
# (JSON {field: [before, after]}). Written in the transaction of the change; deleted with its
# environment; pruned with the runs' retention. No foreign keys: an event outlives its job.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment_id", Integer, nullable=False),
    Column("at", EpochMs, nullable=False),
    Column("actor_key_id", Integer, nullable=True),
    Column("actor_user_id", Integer, nullable=True),  # a user's change (migration 0010)
    Column("actor_name", String(200), nullable=False),
    Column("via", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("object_kind", String(32), nullable=False),
    Column("object_id", Integer, nullable=True),
    Column("object_name", String(200), nullable=False),
    Column("changes", JSON, nullable=False),
    Index("ix_audit_events_environment_id_id", "environment_id", "id"),
    Index("ix_audit_events_object", "object_kind", "object_id", "id"),
    sqlite_autoincrement=True,  # ids are never reused (migration 0003)
)
