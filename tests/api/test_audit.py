"""``GET /audit`` (issue 22): every change of a job, key or environment is recorded with its
actor (the API key) and the changed fields; filters, pages, tenant isolation, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api


async def _audit(api: Api, headers: dict[str, str] | None = None, **params: Any) -> list[dict]:
    r = await api.client.get("/audit", params=params, headers=headers or api.admin)
    assert r.status_code == 200, r.text
    return list(r.json())


def _actions(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["action"], e["object"]["name"]) for e in events]


async def test_every_job_action_is_recorded_with_its_actor(api: Api) -> None:
    c = api.client
    key = await api.env_key(name="deployer")
    job = await api.define(headers=key, name="nightly", metadata={"team": "ops"})
    jid = job["id"]
    await api.define(headers=key, name="nightly", metadata={"team": "ops"})  # a worker's start
    await api.define(headers=key, name="nightly", schedule="0 * * * *", metadata={"team": "ops"})
    for method, path, body in [
        ("PATCH", f"/jobs/pause/{jid}", None),
        ("PATCH", f"/jobs/pause/{jid}", None),  # already paused: nothing changes
        ("PATCH", f"/jobs/resume/{jid}", None),
        ("PATCH", f"/jobs/mute/{jid}", {"muted": True}),
        ("PATCH", f"/jobs/mute/{jid}", {"muted": False}),
        ("POST", f"/jobs/trigger/{jid}", None),
        ("PATCH", f"/jobs/webhook/{jid}", {"webhook_url": "https://example.com/hook"}),
        ("DELETE", f"/jobs/{jid}", None),
    ]:
        r = await c.request(method, path, json=body, headers=key)
        assert r.status_code == 200, (path, r.text)
    events = await _audit(api, job_id=jid)
    assert [e["action"] for e in events] == [
        "deleted", "changed", "triggered", "unmuted", "muted", "resumed", "paused", "changed",
        "created"]
    key_id = events[0]["actor"]["key_id"]
    assert all(e["actor"] == {"key_id": key_id, "user_id": None, "name": "deployer",
                               "via": "api"}
               for e in events)
    assert events[-2]["changes"] == {"cron_expression": ["*/5 * * * *", "0 * * * *"]}
    assert events[-3]["changes"] == {"paused": [False, True]}
    assert events[1]["changes"]["webhook_url"] == [None, "https://example.com/hook"]
    assert events[0]["object"] == {"kind": "job", "id": jid, "name": "nightly"}
    assert events[0]["at"].endswith("Z") and events[0]["environment_id"] == 1


async def test_a_refused_change_records_nothing(api: Api) -> None:
    job = await api.define(name="blocker", blocking=True)
    assert (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)
            ).status_code == 200
    assert (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)
            ).status_code == 409
    r = await api.client.post("/jobs/definition", headers=api.admin,
                              json={"name": "blocker", "schedule": "0 24 * * *"})
    assert r.status_code == 400
    assert _actions(await _audit(api)) == [("triggered", "blocker"), ("created", "blocker")]


async def test_keys_and_environments_are_recorded(api: Api) -> None:
    c = api.client
    r = await c.post("/org/environments", json={"name": "staging"}, headers=api.admin)
    env2 = r.json()["id"]
    r = await c.post("/apikeys", json={"environment_id": env2, "name": "ci"}, headers=api.admin)
    kid = r.json()["id"]
    assert (await c.delete(f"/apikeys/revoke/{kid}", headers=api.admin)).status_code == 200
    in_env2 = {"X-API-ENVIRONMENT": str(env2), **api.admin}
    assert _actions(await _audit(api, in_env2)) == [
        ("revoked", "ci"), ("created", "ci"), ("created", "staging")]
    assert (await c.delete(f"/org/environments/{env2}", headers=api.admin)).status_code == 200
    [gone] = await _audit(api, action="deleted")
    assert gone["object"] == {"kind": "environment", "id": env2, "name": "staging"}
    assert gone["actor"]["name"] == "admin"


async def test_filters_and_pages(api: Api) -> None:
    other = await api.env_key(name="other")
    a = await api.define(name="job-a")
    api.clock.advance(600)
    b = await api.define(headers=other, name="job-b")
    await api.client.patch(f"/jobs/pause/{a['id']}", headers=other)
    every = await _audit(api)
    assert _actions(every) == [("paused", "job-a"), ("created", "job-b"), ("created", "job-a"),
                               ("created", "other")]  # the key itself, by the admin key
    assert _actions(await _audit(api, job_id=b["id"])) == [("created", "job-b")]
    assert _actions(await _audit(api, action="paused")) == [("paused", "job-a")]
    other_id = every[0]["actor"]["key_id"]
    assert len(await _audit(api, actor_key_id=other_id)) == 2
    assert _actions(await _audit(api, since="2026-11-28T12:05:00Z")) == [
        ("paused", "job-a"), ("created", "job-b")]
    assert _actions(await _audit(api, until="2026-11-28T12:05:00Z")) == [
        ("created", "job-a"), ("created", "other")]
    page = await _audit(api, limit=2)
    rest = await _audit(api, limit=2, cursor=page[-1]["id"])
    assert [e["id"] for e in page + rest] == [e["id"] for e in every]
    assert len(await _audit(api, cursor=2**31)) == 4  # "below 2^31": every id
    assert len(await _audit(api, cursor=2**31 + 1)) == 4  # and above it (docs/api.md)
    r = await api.client.get("/api/audit", headers=api.admin)  # served under /api too
    assert r.status_code == 200 and len(r.json()) == 4


async def test_an_environment_key_sees_only_its_environment(api: Api) -> None:
    c = api.client
    env2 = (await c.post("/org/environments", json={"name": "staging"},
                         headers=api.admin)).json()["id"]
    key2 = await api.env_key(env2, name="staging-key")
    theirs = await api.define(headers=key2, name="staging-job")
    mine = await api.define(name="prod-job")
    assert _actions(await _audit(api, key2)) == [
        ("created", "staging-job"), ("created", "staging-key"), ("created", "staging")]
    assert _actions(await _audit(api)) == [("created", "prod-job")]
    # a job of another environment answers exactly like a missing one
    foreign = await c.get("/audit", params={"job_id": mine["id"]}, headers=key2)
    missing = await c.get("/audit", params={"job_id": 987654}, headers=key2)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["message"].replace(str(mine["id"]), "N") == \
        missing.json()["message"].replace("987654", "N")
    r = await c.get("/audit", headers={"X-API-ENVIRONMENT": "1", **key2})
    assert r.status_code == 403
    outsider = await api.foreign_org()
    assert await _audit(api, outsider) == []
    r = await c.get("/audit", params={"job_id": theirs["id"]}, headers=outsider)
    assert r.status_code == 404


@pytest.mark.parametrize("params", [
    {"job_id": "0"}, {"job_id": "-1"}, {"job_id": str(2**31)}, {"job_id": "abc"},
    {"actor_key_id": str(2**31)}, {"actor_key_id": "x"}, {"action": "exploded"},
    {"since": "yesterday"}, {"until": "2026-13-01T00:00:00Z"}, {"since": "2026-11-28T12:00"},
    {"since": "2026-11-29T00:00:00Z", "until": "2026-11-28T00:00:00Z"},
    {"cursor": "0"}, {"cursor": str(2**64)}, {"limit": "0"}, {"limit": "201"},
    {"limit": "many"}, {"action": "x" * 100}, {"action": "paused\x00"}, {"since": "\x00"},
    {"until": "2026-11-28T12:00:00\x00Z"}, {"job_id": "1\x00"},
])
async def test_bad_parameters_are_a_clear_400(api: Api, params: dict[str, str]) -> None:
    r = await api.client.get("/audit", params=params, headers=api.admin)
    assert r.status_code == 400, r.text
    field = next(iter(params))
    assert field in r.json()["message"], r.text


async def test_no_key_is_a_401(api: Api) -> None:
    assert (await api.client.get("/audit")).status_code == 401


async def test_backfill_rerun_skip_and_timed_pause_are_recorded(api: Api) -> None:
    c = api.client
    job = await api.define(name="replayed", schedule="0 * * * *")
    jid = job["id"]
    r = await c.post(f"/jobs/{jid}/backfill", headers=api.admin,
                     json={"from": "2026-11-28T09:00:00Z", "to": "2026-11-28T11:00:00Z"})
    assert r.status_code == 200, r.text
    run_id = r.json()["executions"][0]["id"]
    r = await c.post(f"/jobs/executions/complete/{run_id}", headers=api.admin,
                     json={"success": True})
    assert r.status_code == 200, r.text
    assert (await c.post(f"/jobs/executions/{run_id}/rerun", headers=api.admin)
            ).status_code == 200
    assert (await c.patch(f"/jobs/skip/{jid}", json={"count": 2}, headers=api.admin)
            ).status_code == 200
    r = await c.patch(f"/jobs/pause/{jid}", json={"until": "2026-11-29T00:00:00Z"},
                      headers=api.admin)
    assert r.status_code == 200, r.text
    events = await _audit(api, job_id=jid)
    assert [e["action"] for e in events] == ["paused", "changed", "rerun", "backfilled",
                                             "created"]
    assert events[3]["changes"] == {"runs": [None, 3]}
    assert events[2]["changes"]["run_id"][0] == run_id
    assert events[1]["changes"] == {"skip_next": [0, 2]}
    assert events[0]["changes"]["paused_until"] == [None, "2026-11-29T00:00:00Z"]


async def test_channel_changes_are_recorded_and_their_url_never_shown(api: Api) -> None:
    c = api.client
    r = await c.post("/org/channels", headers=api.admin, json={
        "name": "ops-slack", "kind": "slack", "url": "https://example.com/hook/secret-one"})
    assert r.status_code == 200, r.text
    cid = r.json()["id"]
    r = await c.put(f"/org/channels/{cid}", headers=api.admin, json={
        "name": "ops-slack", "kind": "slack", "url": "https://example.com/hook/secret-two"})
    assert r.status_code == 200, r.text
    assert (await c.delete(f"/org/channels/{cid}", headers=api.admin)).status_code == 200
    events = await _audit(api)
    assert _actions(events) == [("deleted", "ops-slack"), ("changed", "ops-slack"),
                                ("created", "ops-slack")]
    assert events[1]["changes"] == {"url": ["changed", "changed"]}
    assert events[2]["object"]["kind"] == "channel"
    assert "secret" not in str(events)


async def test_the_way_in_a_client_declares(api: Api) -> None:
    for via in ("cli", "worker", "dashboard", "bogus"):
        await api.define(headers={"x-schedo-via": via, **api.admin}, name=f"job-{via}")
    got = {e["object"]["name"]: e["actor"]["via"] for e in await _audit(api)}
    # "dashboard" only ever comes from a dashboard session, never from a header
    assert got == {"job-cli": "cli", "job-worker": "worker", "job-dashboard": "api",
                   "job-bogus": "api"}


def test_the_cli_client_says_it_is_the_cli() -> None:
    from schedo.cli.support import Connection

    client = Connection("http://127.0.0.1:1", "sk_" + "x" * 40, None).client()
    try:
        assert client._http.headers["x-schedo-via"] == "cli"
    finally:
        client.close()


async def test_a_change_of_json_type_is_written_and_recorded(api: Api) -> None:
    """metadata ``{"a": 1}`` then ``{"a": true}``: equal in Python, another value in JSON.
    The job is written and the audit log says what changed; the same again writes nothing."""
    job = await api.define(name="typed-meta", metadata={"a": 1})
    api.clock.advance(5)
    moved = await api.define(name="typed-meta", metadata={"a": True})
    api.clock.advance(5)
    again = await api.define(name="typed-meta", metadata={"a": True})
    assert moved["metadata"] == {"a": True} and again == moved
    assert moved["updated_at"] != job["updated_at"]
    events = await _audit(api, job_id=job["id"])
    assert [e["action"] for e in events] == ["changed", "created"]
    assert events[0]["changes"] == {"metadata": [{"a": 1}, {"a": True}]}
