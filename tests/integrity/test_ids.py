"""An id, once given, never names another thing (SPEC 2), on SQLite and PostgreSQL; and a
delete takes every row that refers to the deleted thing with it (issue 23, point 1)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from schedo.server.storage.schema import (
    notifications,
    worker_connections,
    worker_heartbeats,
)
from tests.conftest import Api
from tests.engine.conftest import Engine


async def _count(api: Api, table: Any, *where: Any) -> int:
    async with api.svc.store.db.read() as c:  # type: ignore[attr-defined]
        return int((await c.execute(select(func.count()).select_from(table).where(*where)))
                   .scalar_one())


async def test_a_deleted_jobs_id_and_its_runs_ids_are_never_given_again(api: Api) -> None:
    a = await api.define(name="first-job")
    ex = (await api.client.post(f"/jobs/trigger/{a['id']}", headers=api.admin)).json()
    assert (await api.client.delete(f"/jobs/{a['id']}", headers=api.admin)).status_code == 200
    b = await api.define(name="second-job")
    assert b["id"] > a["id"]
    ex2 = (await api.client.post(f"/jobs/trigger/{b['id']}", headers=api.admin)).json()
    assert ex2["id"] > ex["id"]
    # the deleted job's late report names no one: 404, and the new run is untouched
    r = await api.client.post(f"/jobs/executions/complete/{ex['id']}",
                              json={"success": True}, headers=api.admin)
    assert r.status_code == 404, r.text
    runs = (await api.client.get(f"/jobs/executions/{b['id']}", headers=api.admin)).json()
    assert [e["status"] for e in runs] == ["pending"]
    # old links to the deleted job do not open the new one
    assert (await api.client.get(f"/jobs/{a['id']}", headers=api.admin)).status_code == 404


async def test_deleted_environments_and_keys_ids_are_never_given_again(api: Api) -> None:
    env = (await api.client.post("/org/environments", json={"name": "staging"},
                                 headers=api.admin)).json()
    key = (await api.client.post("/apikeys", json={"environment_id": env["id"], "name": "k"},
                                 headers=api.admin)).json()
    r = await api.client.delete(f"/org/environments/{env['id']}", headers=api.admin)
    assert r.status_code == 200, r.text
    env2 = (await api.client.post("/org/environments", json={"name": "staging-2"},
                                  headers=api.admin)).json()
    assert env2["id"] > env["id"]
    key2 = (await api.client.post("/apikeys", json={"environment_id": env2["id"], "name": "k"},
                                  headers=api.admin)).json()
    assert key2["id"] > key["id"]
    # the deleted environment's key is gone with it
    r = await api.client.get("/jobs", headers={"x-api-key": key["key"]})
    assert r.status_code == 401


async def test_deleting_a_job_takes_its_notifications_with_it(engine: Engine) -> None:
    api = engine.api
    job = await api.define(name="doomed-job", schedule="* * * * *")
    engine.advance(60)
    await engine.tick()
    [run] = await engine.claim("doomed-job")
    r = await api.client.post(f"/jobs/executions/complete/{run['id']}",
                              json={"success": False, "error": "boom"}, headers=api.admin)
    assert r.status_code == 200
    assert await _count(api, notifications, notifications.c.job_id == job["id"]) == 1
    assert (await api.client.delete(f"/jobs/{job['id']}", headers=api.admin)).status_code == 200
    assert await _count(api, notifications, notifications.c.job_id == job["id"]) == 0
    got = (await api.client.get("/org/notifications", headers=api.admin))
    assert got.status_code == 200
    assert "doomed-job" not in got.text


async def test_deleting_an_environment_takes_every_row_of_it(engine: Engine) -> None:
    api = engine.api
    env = (await api.client.post("/org/environments", json={"name": "short-lived"},
                                 headers=api.admin)).json()
    key = await api.env_key(env["id"], "worker")
    await api.define(headers=key, name="env-job", schedule="* * * * *")
    engine.advance(60)
    await engine.tick()
    r = await api.client.get("/jobs/executions?jobs=env-job&wait=0", headers=key)
    [run] = r.json()
    await api.client.post(f"/jobs/executions/complete/{run['id']}",
                          json={"success": False, "error": "secret-detail"}, headers=key)
    eid = env["id"]
    assert await _count(api, notifications, notifications.c.environment_id == eid) == 1
    assert await _count(api, worker_connections, worker_connections.c.environment_id == eid) == 1
    assert (await api.client.delete(f"/org/environments/{eid}", headers=api.admin)).status_code \
        == 200
    for table in (notifications, worker_connections, worker_heartbeats):
        assert await _count(api, table, table.c.environment_id == eid) == 0
    # a new environment never sees the old one's past
    env2 = (await api.client.post("/org/environments", json={"name": "newcomer"},
                                  headers=api.admin)).json()
    assert env2["id"] != eid
    key2 = await api.env_key(env2["id"], "reader")
    got = await api.client.get("/org/notifications", headers=key2)
    assert got.status_code == 200
    assert "secret-detail" not in got.text and "env-job" not in got.text
