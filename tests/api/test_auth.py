"""Keys: admin vs environment keys, X-API-ENVIRONMENT, hashing and revocation."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from tests.conftest import ADMIN_KEY, Api


async def test_missing_unknown_and_malformed_keys_are_401(api: Api) -> None:
    for headers in ({}, {"x-api-key": ""}, {"x-api-key": "sk_nope"},
                    {"x-api-key": ADMIN_KEY + "x"}, {"x-api-key": "k" * 5000}):
        r = await api.client.get("/jobs", headers=headers)
        assert r.status_code == 401, headers
        assert "x-api-key" in r.json()["message"]


async def test_environment_key_sees_only_its_environment(api: Api) -> None:
    env2 = (await api.client.post("/org/environments", json={"name": "staging"},
                                  headers=api.admin)).json()
    k1 = await api.env_key(1)
    k2 = await api.env_key(env2["id"])
    j1 = await api.define(headers=k1, name="prod-job")
    j2 = await api.define(headers=k2, name="staging-job")
    assert [j["name"] for j in (await api.client.get("/jobs", headers=k1)).json()] == ["prod-job"]
    assert [j["name"] for j in (await api.client.get("/jobs", headers=k2)).json()] == [
        "staging-job"]
    assert (await api.client.get(f"/jobs/{j2['id']}", headers=k1)).status_code == 404
    # an environment key naming another environment: 403; its own: fine
    r = await api.client.get("/jobs", headers={**k1, "X-API-ENVIRONMENT": str(env2["id"])})
    assert r.status_code == 403
    r = await api.client.get("/jobs", headers={**k1, "X-API-ENVIRONMENT": "1"})
    assert r.status_code == 200
    # the admin key picks the environment with the header, default the first one
    r = await api.client.get("/jobs", headers={**api.admin, "X-API-ENVIRONMENT": str(env2["id"])})
    assert [j["id"] for j in r.json()] == [j2["id"]]
    r = await api.client.get("/jobs", headers=api.admin)
    assert [j["id"] for j in r.json()] == [j1["id"]]
    for bad in ("abc", "-1", "0", "99999"):
        r = await api.client.get("/jobs", headers={**api.admin, "X-API-ENVIRONMENT": bad})
        assert r.status_code in (400, 404), bad
    # one spelling, as ids in paths: "02" or "2_0" would name environment 2 or 20
    for spelled in ("02", "+2", "2_0", "2.0", " 2x"):
        r = await api.client.get("/jobs", headers={**api.admin, "X-API-ENVIRONMENT": spelled})
        assert r.status_code == 400 and "X-API-ENVIRONMENT" in r.json()["message"], spelled
    for absent in ("", "  "):  # empty: as without the header, the first environment
        r = await api.client.get("/jobs", headers={**api.admin, "X-API-ENVIRONMENT": absent})
        assert [j["id"] for j in r.json()] == [j1["id"]]


async def test_environment_key_cannot_use_admin_routes(api: Api) -> None:
    k = await api.env_key(1)
    assert (await api.client.get("/org/environments", headers=k)).status_code == 403
    assert (await api.client.post("/org/environments", json={"name": "x"},
                                  headers=k)).status_code == 403
    assert (await api.client.post("/org/emails", json="a@example.com",
                                  headers=k)).status_code == 403


async def test_revocation_takes_effect_on_next_request(api: Api) -> None:
    created = (await api.client.post("/apikeys", json={"environment_id": 1, "name": "ci"},
                                     headers=api.admin)).json()
    key = {"x-api-key": created["key"]}
    assert (await api.client.get("/jobs", headers=key)).status_code == 200
    r = await api.client.delete(f"/apikeys/revoke/{created['id']}", headers=api.admin)
    assert r.status_code == 200 and r.json()[0]["revoked"] is True
    assert (await api.client.get("/jobs", headers=key)).status_code == 401


async def test_key_shown_once_and_stored_hashed(api: Api, db_url: str) -> None:
    created = (await api.client.post("/apikeys", json={"environment_id": 1, "name": "once"},
                                     headers=api.admin)).json()
    secret = created["key"]
    assert secret.startswith("sk_") and len(secret) > 40
    listed = (await api.client.get("/apikeys", headers=api.admin)).json()
    shown = next(k for k in listed if k["id"] == created["id"])
    assert shown["key"] != secret and secret.startswith(shown["key"].rstrip("…"))
    if db_url.startswith("sqlite"):
        raw = Path(make_url(db_url).database or "").read_bytes()
        wal = Path(str(make_url(db_url).database) + "-wal")
        if wal.exists():
            raw += wal.read_bytes()
        assert secret.encode() not in raw and ADMIN_KEY.encode() not in raw


async def test_environment_key_manages_only_own_keys(api: Api) -> None:
    env2 = (await api.client.post("/org/environments", json={"name": "staging"},
                                  headers=api.admin)).json()
    k1 = await api.env_key(1)
    r = await api.client.post("/apikeys", json={"environment_id": env2["id"], "name": "x"},
                              headers=k1)
    # another environment answers exactly as a missing one (issue 23.5)
    missing = await api.client.post("/apikeys", json={"environment_id": 999_999, "name": "x"},
                                    headers=k1)
    assert r.status_code == missing.status_code == 404
    assert r.json() == {"message": f"environment {env2['id']} not found"}
    assert missing.json() == {"message": "environment 999999 not found"}
    r = await api.client.post("/apikeys", json={"environment_id": 1, "name": "mine"}, headers=k1)
    assert r.status_code == 200
    other = (await api.client.post("/apikeys", json={"environment_id": env2["id"], "name": "o"},
                                   headers=api.admin)).json()
    r = await api.client.delete(f"/apikeys/revoke/{other['id']}", headers=k1)
    assert r.status_code == 404
