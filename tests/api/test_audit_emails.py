"""``GET /audit`` shows the organisation's email changes (issue 22): who added or removed an
address, in the environment the key worked in; a refused or idle change records nothing."""

from __future__ import annotations

from tests.conftest import Api


async def test_email_changes_are_in_the_audit_log(api: Api) -> None:
    c = api.client
    assert (await c.post("/org/emails", json="ops@example.com", headers=api.admin)
            ).status_code == 200
    await c.post("/org/emails", json="ops@example.com", headers=api.admin)  # already there
    assert (await c.post("/org/emails", json="not an address", headers=api.admin)
            ).status_code == 400
    env_key = await api.env_key(1)
    assert (await c.post("/org/emails", json="x@example.com", headers=env_key)
            ).status_code == 403
    await c.request("DELETE", "/org/emails", json="ops@example.com", headers=api.admin)
    await c.request("DELETE", "/org/emails", json="ops@example.com", headers=api.admin)
    events = (await c.get("/audit", headers=api.admin)).json()
    emails = [(e["action"], e["object"], e["actor"]["via"]) for e in events
              if e["object"]["kind"] == "email"]
    assert emails == [
        ("deleted", {"kind": "email", "id": None, "name": "ops@example.com"}, "api"),
        ("created", {"kind": "email", "id": None, "name": "ops@example.com"}, "api")]
    other = await api.foreign_org()
    assert [e for e in (await c.get("/audit", headers=other)).json()
            if e["object"]["kind"] == "email"] == []
