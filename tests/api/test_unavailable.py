"""The database going away mid-flight: storage raises ``Unavailable`` (storage/db.py turns
the driver's error into it), the API answers 503 with ``Retry-After`` and the dashboard its
error page, never a 500; ``/readyz`` names the error class. Back once the database is."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from schedo.server.domain.errors import Unavailable
from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@contextmanager
def database_gone(api: Api, tmp_path: Path) -> Iterator[None]:
    """Every new connection fails (an unopenable SQLite file) until the block ends."""
    db = api.svc.store.db  # type: ignore[attr-defined]
    broken = create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    saved = db.read_engine, db.write_engine
    db.read_engine = db.write_engine = broken
    try:
        yield
    finally:
        db.read_engine, db.write_engine = saved


async def _sign_in(b: httpx.AsyncClient) -> None:
    page = await b.get("/ui/login")
    token = CSRF.search(page.text)
    assert token, page.text
    r = await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token.group(1)})
    assert r.status_code == 303, r.text


async def test_storage_raises_unavailable_for_driver_errors(api: Api, tmp_path: Path) -> None:
    with database_gone(api, tmp_path):
        try:
            await api.svc.store.list_jobs(1)
        except Unavailable as exc:
            assert exc.error == "OperationalError" and str(exc)
            # the log line of the 503 names the driver's class and code (it said "Error")
            assert exc.driver_error == "OperationalError (SQLITE_CANTOPEN)"
        else:
            raise AssertionError("no Unavailable")


async def test_api_answers_503_with_retry_after_then_recovers(api: Api, tmp_path: Path) -> None:
    job = await api.define(name="outage-api")
    with database_gone(api, tmp_path):
        for method, path in [("GET", "/jobs"), ("GET", f"/jobs/{job['id']}"),
                             ("POST", f"/jobs/trigger/{job['id']}")]:
            r = await api.client.request(method, path, headers=api.admin)
            assert r.status_code == 503, (path, r.text)
            assert r.json() == {"message": "database unavailable, retry shortly"}
            assert r.headers["retry-after"] == "1"
            assert r.headers["x-should-retry"] == "true"  # the hosted client retries a 503
        ready = await api.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "message": "database: OperationalError"}
    assert (await api.client.get("/jobs", headers=api.admin)).status_code == 200
    assert (await api.client.get("/readyz")).status_code == 200


async def test_dashboard_shows_its_error_page_then_recovers(api: Api, tmp_path: Path) -> None:
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        await _sign_in(b)
        with database_gone(api, tmp_path):
            r = await b.get("/ui/jobs")
            assert r.status_code == 503
            assert r.headers["content-type"].startswith("text/html")
            assert "The database is not reachable right now; retry shortly." in r.text
        assert (await b.get("/ui/jobs")).status_code == 200


async def test_readyz_says_not_ready_when_the_database_does_not_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that stops answering (a cut network: the driver waits for its connect
    timeout) makes /readyz answer 503 within READY_TIMEOUT, not hang."""
    from schedo.server.services import ops

    async def hangs() -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(ops, "READY_TIMEOUT", 0.2)
    monkeypatch.setattr(api.svc.store, "ping", hangs)
    r = await asyncio.wait_for(api.client.get("/readyz"), 10)
    assert r.status_code == 503 and "no answer within 0.2 s" in r.json()["message"]
    monkeypatch.undo()
    assert (await api.client.get("/readyz")).status_code == 200


async def test_readyz_answers_in_time_when_the_driver_is_slow_to_cancel(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A driver cancelled mid-connect on a cut network may take seconds to give up (the pool
    closing a half-open connection): /readyz still answers at READY_TIMEOUT, not when the
    cancelled check ends (``asyncio.wait_for`` waited for it: a 5-second probe timed out)."""
    from schedo.server.services import ops

    ended = asyncio.Event()

    async def slow_to_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(2)  # the driver's cleanup, longer than the probe may wait
            ended.set()
            raise

    monkeypatch.setattr(ops, "READY_TIMEOUT", 0.2)
    monkeypatch.setattr(api.svc.store, "ping", slow_to_cancel)
    loop = asyncio.get_running_loop()
    started = loop.time()
    r = await asyncio.wait_for(api.client.get("/readyz"), 10)
    took = loop.time() - started
    assert r.status_code == 503 and "no answer within 0.2 s" in r.json()["message"]
    assert took < 1.5, took  # not the 2 s of the cancelled check's cleanup
    assert not ended.is_set()
    await asyncio.wait_for(ended.wait(), 10)  # the abandoned check still ends, in the background
    monkeypatch.undo()
    assert (await api.client.get("/readyz")).status_code == 200
