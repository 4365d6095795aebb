"""The partial indexes' PostgreSQL conditions (storage/schema_types.py): declared without the
PostgreSQL dialect, the same DDL and the same ``postgresql_where`` option once it is in play."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

from schedo.server.storage.schema import metadata
from schedo.server.storage.schema_types import with_postgresql_options
from tests.support.server import child_env
from tests.support.worker import ROOT

# every partial index and its condition on PostgreSQL (migrations 0001, 0008, 0012)
POSTGRESQL_WHERE = {
    "ix_jobs_after": "after IS NOT NULL",
    "ix_executions_pending": "status = 'pending'",
    "ix_executions_pending_type": "status = 'pending'",
    "ix_executions_active_job": "status IN ('pending', 'running')",
    "ix_executions_pickup_deadline": "status = 'pending'",
    "ix_executions_run_deadline": "status = 'running'",
    "ix_executions_missed": "status IN ('expired', 'skipped')",
    "ix_notifications_pending_fanout": "fanned_out = false",
    "ix_notification_deliveries_due": "status = 'pending'",
}


def _indexes() -> dict[str, object]:
    return {i.name: i for t in metadata.tables.values() for i in t.indexes if i.name}


def test_create_index_on_postgresql_has_the_condition() -> None:
    for name, index in _indexes().items():
        ddl = str(CreateIndex(index).compile(dialect=postgresql.dialect()))  # type: ignore[arg-type]
        if name in POSTGRESQL_WHERE:
            assert ddl.endswith(f" WHERE {POSTGRESQL_WHERE[name]}"), ddl
        else:
            assert " WHERE " not in ddl, ddl


def test_the_option_is_the_declared_postgresql_where() -> None:
    with_postgresql_options()
    with_postgresql_options()  # idempotent
    found = {
        name: str(index.dialect_kwargs["postgresql_where"])  # type: ignore[attr-defined]
        for name, index in _indexes().items()
        if index.dialect_kwargs.get("postgresql_where") is not None  # type: ignore[attr-defined]
    }
    assert found == POSTGRESQL_WHERE


def test_the_schema_does_not_load_the_postgresql_dialect() -> None:
    probe = (
        "import sys\n"
        "import schedo.server.storage.schema, schedo.server.storage.db\n"
        "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy.dialects.postgresql')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True, env=child_env(PYTHONPATH=str(ROOT / "src")))
    assert out.stdout.strip() == "[]"
