"""The column type, metadata and partial-index helper every table of the declared schema uses.

Partial indexes (``partial_index``): an ``Index(postgresql_where=...)`` makes SQLAlchemy load
its PostgreSQL dialect (~2 MB) to validate the option, on a SQLite server too (issue 18, idle
RSS). So the PostgreSQL condition waits in the index's ``info`` and becomes the index's
``postgresql_where`` (the same option, the same DDL) once PostgreSQL is in play:
``with_postgresql_options`` runs when a PostgreSQL engine is made (storage/db.py), in the
migrations' environment (autogenerate sees the option), and before any ``CREATE INDEX`` is
compiled for PostgreSQL (the ``compiles`` hook below), whichever comes first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Dialect, Index, MetaData, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex
from sqlalchemy.types import TypeDecorator

from ..domain.timefmt import from_ms, to_ms


class EpochMs(TypeDecorator[datetime]):
    """Aware datetime <-> BIGINT milliseconds since the epoch."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, int):
            return value
        return to_ms(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_ms(int(value))


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


_POSTGRESQL_WHERE = "schedo_postgresql_where"  # the ``info`` key of a pending condition


def partial_index(name: str, *columns: str, sqlite_where: str, postgresql_where: str) -> Index:
    """``Index(name, *columns, sqlite_where=text(...), postgresql_where=text(...))`` without
    loading the PostgreSQL dialect now (see the module's docstring)."""
    return Index(name, *columns, sqlite_where=text(sqlite_where),
                 info={_POSTGRESQL_WHERE: postgresql_where})


def with_postgresql_options() -> None:
    """Give every partial index of ``metadata`` its ``postgresql_where`` (loads the dialect;
    idempotent)."""
    for table in metadata.tables.values():
        for index in table.indexes:
            where = index.info.pop(_POSTGRESQL_WHERE, None)
            if where is not None:
                index.dialect_options["postgresql"]["where"] = text(where)


@compiles(CreateIndex, "postgresql")
def _create_index_on_postgresql(element: CreateIndex, compiler: Any, **kw: Any) -> str:
    with_postgresql_options()
    return str(compiler.visit_create_index(element, **kw))
