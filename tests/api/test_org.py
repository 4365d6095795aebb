"""Organisation, environments and notification emails."""

from __future__ import annotations

from tests.conftest import Api


async def test_org_shape(api: Api) -> None:
    org = (await api.client.get("/org", headers=api.admin)).json()
    assert org == {"id": 1, "name": org["name"], "emails": [], "single_user_org": False,
                   "clerk_id": None, "edges": {}}


async def test_environments_create_list_delete(api: Api) -> None:
    envs = (await api.client.get("/org/environments", headers=api.admin)).json()
    assert [(e["id"], e["name"]) for e in envs] == [(1, "production")]
    assert len(envs[0]["webhook_signature_key"]) >= 32
    created = (await api.client.post("/org/environments", json={"name": "staging"},
                                     headers=api.admin)).json()
    assert created["organization_id"] == 1 and created["name"] == "staging"
    k = await api.env_key(created["id"])
    await api.define(headers=k, name="staging-job")
    r = await api.client.delete(f"/org/environments/{created['id']}", headers=api.admin)
    assert r.status_code == 200 and r.json()["id"] == created["id"]
    assert (await api.client.get("/jobs", headers=k)).status_code == 401  # its keys are gone
    r = await api.client.delete("/org/environments/1", headers=api.admin)
    assert r.status_code == 409  # the last environment stays
    r = await api.client.post("/org/environments", json={"name": ""}, headers=api.admin)
    assert r.status_code == 400 and "name" in r.json()["message"]


async def test_emails_add_list_remove(api: Api) -> None:
    assert (await api.client.post("/org/emails", json="ops@example.com",
                                  headers=api.admin)).json() == ["ops@example.com"]
    assert (await api.client.post("/org/emails", json="ops@example.com",
                                  headers=api.admin)).json() == ["ops@example.com"]
    await api.client.post("/org/emails", json="dev@example.org", headers=api.admin)
    assert (await api.client.get("/org/emails", headers=api.admin)).json() == [
        "ops@example.com", "dev@example.org"]
    assert (await api.client.get("/org", headers=api.admin)).json()["emails"] == [
        "ops@example.com", "dev@example.org"]
    r = await api.client.request("DELETE", "/org/emails", json="ops@example.com",
                                 headers=api.admin)
    assert r.json() == ["dev@example.org"]
    for bad in ("not-an-email", "a@b", "a b@example.com", "x" * 400 + "@example.com",
                "x" * 65 + "@example.com"):  # a local part is at most 64 (RFC 5321)
        r = await api.client.post("/org/emails", json=bad, headers=api.admin)
        assert r.status_code == 400 and "email" in r.json()["message"], bad
    longest = "x" * 64 + "@example.com"
    assert longest in (await api.client.post("/org/emails", json=longest,
                                              headers=api.admin)).json()
    await api.client.request("DELETE", "/org/emails", json=longest, headers=api.admin)
    r = await api.client.post("/org/emails", json={"email": "x@example.com"}, headers=api.admin)
    assert r.status_code == 422
    assert (await api.client.get("/org/emails", headers=api.admin)).json() == ["dev@example.org"]
