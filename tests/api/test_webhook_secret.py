"""The environment's webhook signature key and its rotation over the API (issue 22):
admin keys only, another organisation's environment answers exactly like a missing one, bad
input is a 400 that changes nothing, and the rotation is in the audit log."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api


async def _key(api: Api, env_id: int = 1) -> str:
    envs = (await api.client.get("/org/environments", headers=api.admin)).json()
    return str(next(e for e in envs if e["id"] == env_id)["webhook_signature_key"])


async def _rotations(api: Api) -> list[dict[str, Any]]:
    r = await api.client.get("/audit", params={"action": "rotated"}, headers=api.admin)
    assert r.status_code == 200, r.text
    return list(r.json())


async def test_rotate_with_the_default_and_a_set_overlap(api: Api) -> None:
    c = api.client
    old = await _key(api)
    got = (await c.get("/org/environments/1/webhook-secret", headers=api.admin)).json()
    assert got == {"environment_id": 1, "environment_name": "production",
                   "webhook_signature_key": old, "previous_valid_until": None}
    r = await c.post("/org/environments/1/webhook-secret/rotate", headers=api.admin)
    assert r.status_code == 200, r.text
    new = r.json()["webhook_signature_key"]
    assert new != old and len(new) >= 32 and await _key(api) == new
    assert r.json()["previous_valid_until"] == "2026-11-28T12:00:00Z".replace("28T", "29T")
    api.clock.advance(60)
    r = await c.post("/org/environments/1/webhook-secret/rotate",
                     json={"overlap_seconds": 604800}, headers=api.admin)
    assert r.json()["previous_valid_until"] == "2026-12-05T12:01:00Z"
    r = await c.post("/org/environments/1/webhook-secret/rotate",
                     json={"overlap_seconds": 0}, headers=api.admin)
    assert r.json()["previous_valid_until"] is None
    [last, *_] = events = await _rotations(api)
    assert len(events) == 3 and last["object"] == {"kind": "environment", "id": 1,
                                                   "name": "production"}
    assert last["changes"]["webhook_signature_key"] == ["changed", "changed"]
    assert old not in str(events) and new not in str(events)


@pytest.mark.parametrize(("body", "status"), [
    ({"overlap_seconds": -1}, 400), ({"overlap_seconds": 604801}, 400),
    ({"overlap": 60}, 400),  # an unknown field: named, never ignored
    # a value of the wrong type is 422, as everywhere in the API (docs/api.md)
    ({"overlap_seconds": "3600"}, 422), ({"overlap_seconds": True}, 422),
    ({"overlap_seconds": 1.5}, 422), ([60], 422), ("60", 422),
])
async def test_bad_overlap_is_refused_and_changes_nothing(
    api: Api, body: object, status: int
) -> None:
    old = await _key(api)
    r = await api.client.post("/org/environments/1/webhook-secret/rotate", json=body,
                              headers=api.admin)
    assert r.status_code == status, r.text
    assert ("overlap" in r.json()["message"]) or ("body" in r.json()["message"])
    assert await _key(api) == old and await _rotations(api) == []


async def test_a_body_that_is_not_json_is_a_400(api: Api) -> None:
    old = await _key(api)
    r = await api.client.post("/org/environments/1/webhook-secret/rotate", content=b"{nope",
                              headers={**api.admin, "content-type": "application/json"})
    assert r.status_code == 400 and await _key(api) == old


async def test_environment_keys_and_foreign_ids(api: Api) -> None:
    c = api.client
    old = await _key(api)
    env_key = await api.env_key(1)
    for method, path in [("POST", "/org/environments/1/webhook-secret/rotate"),
                         ("GET", "/org/environments/1/webhook-secret")]:
        r = await c.request(method, path, headers=env_key)
        assert r.status_code == 403 and "admin" in r.json()["message"]
    other = await api.foreign_org()
    other_env = (await c.get("/org/environments", headers=other)).json()[0]
    other_key = other_env["webhook_signature_key"]
    for env_id in (other_env["id"], 999_999):  # foreign and missing: the same answer
        r = await c.post(f"/org/environments/{env_id}/webhook-secret/rotate", headers=api.admin)
        assert r.status_code == 404
        assert r.json()["message"] == f"environment {env_id} not found"
        r = await c.get(f"/org/environments/{env_id}/webhook-secret", headers=api.admin)
        assert r.status_code == 404
    r = await c.post("/org/environments/1/webhook-secret/rotate", headers=other)
    assert r.status_code == 404  # our environment, seen from the other organisation
    r = await c.post("/org/environments/0/webhook-secret/rotate", headers=api.admin)
    assert r.status_code in (400, 404)
    assert await _key(api) == old and await _rotations(api) == []
    assert (await c.get("/org/environments", headers=other)).json()[0][
        "webhook_signature_key"] == other_key
