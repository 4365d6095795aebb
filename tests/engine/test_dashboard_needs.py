"""The overview's "what needs you now" against the ticker and the reaper on the fake clock
(review of issue 22): a heartbeat run waiting for its ping inside its grace time is not late
(its job pings when it runs; nothing is to "take" it), and is listed once the grace ends
without a ping (expired, "missed")."""

from __future__ import annotations

from tests.api.test_dashboard_views import browser, needs_section
from tests.engine.conftest import Engine


async def test_a_heartbeat_waiting_inside_its_grace_is_not_late(engine: Engine) -> None:
    engine.at("2026-11-28T12:00:30Z")
    job = await engine.api.define(name="nightly-backup", schedule="* * * * *",
                                  type="heartbeat", grace_seconds=3600)
    await engine.step_to("2026-11-28T12:03:30Z", step=10)
    [waiting, *_skipped] = sorted(await engine.runs(job["id"]), key=lambda r: r["id"])
    assert waiting["status"] == "pending"  # due 12:01, its ping may come until 13:01
    async with browser(engine.api) as b:
        page = (await b.get("/ui/")).text
        assert "late-h" not in page and "Nothing needs you" in page, page
        await engine.step_to("2026-11-28T13:01:30Z", step=60)
        page = (await b.get("/ui/")).text
        assert "late-h" not in page
        missed = needs_section(page, "missed-h")
        assert f'>nightly-backup run #{waiting["id"]}</a>' in missed
        assert "missed: no ping within the grace time" in missed
