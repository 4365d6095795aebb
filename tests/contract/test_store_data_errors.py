"""A value the database refuses is bad input, not an unavailable database (issue 24, point
5): the storage layer turns a driver's data error (PostgreSQL SQLSTATE class 22, such as an
int4 overflow or a NUL in text; an int SQLite cannot bind) into ``InvalidInput`` (400), and
keeps ``Unavailable`` (503) for a database that cannot serve. The API validates at the door
first (tests/hardening/test_fuzz_routes.py); this is the net under it, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import literal, select

from schedo.server.domain.errors import InvalidInput, NotFound
from schedo.server.storage.sql import SqlStore


@pytest.mark.parametrize("job_id", [2**31, 2**63])
async def test_an_id_no_column_holds_is_bad_input_or_missing_never_unavailable(
    store: SqlStore, job_id: int
) -> None:
    # PostgreSQL's int4 (and SQLite's int8) refuse it: 400; SQLite holds 2^31: just missing
    with pytest.raises((InvalidInput, NotFound)):
        await store.get_job(1, job_id)
    with pytest.raises((InvalidInput, NotFound)):
        await store.get_org(job_id)


async def test_a_nul_in_text_is_bad_input_where_the_database_refuses_it(store: SqlStore) -> None:
    try:
        found = await store.find_key("sk_\x00abcdefghijkl")
    except InvalidInput:
        assert store.db.dialect == "postgresql"  # text holds no NUL there
    else:
        assert found is None and store.db.dialect == "sqlite"


async def test_a_refused_value_in_a_write_transaction_is_bad_input(store: SqlStore) -> None:
    with pytest.raises(InvalidInput):
        async with store.db.write() as c:
            await c.execute(select(literal(2**63) + 1))
    async with store.db.write() as c:  # and the next write works
        assert (await c.execute(select(literal(1)))).scalar() == 1
