"""The job page shows the issue-19 fields: a heartbeat job's type and ping URL, the alert
threshold and channels, and why a job was paused after failures."""

from __future__ import annotations

from tests.browser.test_pages import Ui, define, ui  # noqa: F401 (the fixture)
from tests.conftest import ADMIN_KEY


async def test_job_page_shows_ping_url_threshold_and_pause_reason(ui: Ui) -> None:  # noqa: F811
    c = ui.app_client
    await c.post("/org/channels", headers={"x-api-key": ADMIN_KEY},
                 json={"name": "chat", "kind": "slack", "url": "https://chat.example.com/h"})
    hb = await define(ui, name="hb-page-job", type="heartbeat", grace_seconds=90,
                      alert_after_failures=2, pause_after_failures=1)
    async with ui.browser() as b:
        await ui.sign_in(b)
        page = (await b.get(f"/ui/jobs/{hb['id']}")).text
        assert "Heartbeat (pinged)" in page and f"/ping/{hb['ping_uuid']}" in page
        assert "after 2 failed runs in a row" in page
        r = await c.get(f"/ping/{hb['ping_uuid']}/fail")
        assert r.status_code == 200
        page = (await b.get(f"/ui/jobs/{hb['id']}")).text
        assert "Paused because" in page and "paused after 1 consecutive failed runs" in page
        assert '<h2 id="alerts-h">Alerts</h2>' in page and "<td>paused</td>" in page
    r = await c.get(f"/org/notifications?job_id={hb['id']}", headers={"x-api-key": ADMIN_KEY})
    assert [n["kind"] for n in r.json()] == ["paused"]
    r = await c.get("/org/notifications?job_id=987654", headers={"x-api-key": ADMIN_KEY})
    assert r.status_code == 404
