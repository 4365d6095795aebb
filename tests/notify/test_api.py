"""GET /org/notifications: shape, limits and tenant isolation."""

from __future__ import annotations

from tests.notify.conftest import NotifyApi


async def test_limit_and_order(napi_no_smtp: NotifyApi) -> None:
    api = napi_no_smtp
    job = await api.define(name="turning-job")
    for i in range(5):
        await api.run(job["id"], i % 2 == 1, error=None if i % 2 else "e")
    listed = await api.notifications()
    assert [n["kind"] for n in listed] == [
        "failing", "recovered", "failing", "recovered", "failing"]
    assert [n["id"] for n in listed] == sorted((n["id"] for n in listed), reverse=True)
    assert len(await api.notifications(limit=2)) == 2
    assert list(listed[0]) == [
        "id", "kind", "job_id", "job_name", "environment_id", "execution_id", "status",
        "attempt", "scheduled_for", "error", "created_at", "deliveries"]
    for bad in ("0", "201", "x", "-1"):
        r = await api.client.get(f"/org/notifications?limit={bad}", headers=api.admin)
        assert r.status_code in (400, 422), (bad, r.status_code)
        assert "limit" in r.json()["message"]
    r = await api.client.get("/api/org/notifications", headers=api.admin)
    assert r.status_code in (200, 404)  # /api prefix once app.py includes the router


async def test_isolation_between_orgs_and_environments(napi_no_smtp: NotifyApi) -> None:
    api = napi_no_smtp
    job = await api.define(name="org-one-job")
    await api.run(job["id"], False, error="e")
    # a second environment of the same organisation, with its own key and failing job
    r = await api.client.post("/org/environments", json={"name": "staging"}, headers=api.admin)
    env2 = r.json()["id"]
    env2_key = await api.env_key(env2, "staging-key")
    job2 = await api.define(headers=env2_key, name="staging-job")
    await api.run(job2["id"], False, headers=env2_key, error="e2")
    env1_key = await api.env_key(1, "prod-key")

    assert {n["job_name"] for n in await api.notifications()} == {"org-one-job", "staging-job"}
    assert [n["job_name"] for n in await api.notifications(env1_key)] == ["org-one-job"]
    assert [n["job_name"] for n in await api.notifications(env2_key)] == ["staging-job"]
    other = await api.foreign_org()
    assert await api.notifications(other) == []
    r = await api.client.get("/org/notifications")
    assert r.status_code == 401
