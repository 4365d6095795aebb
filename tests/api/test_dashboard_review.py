"""Found by trying the issue-22 dashboard as an outsider (review): each test is a bug that
was there, in-process over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from schedo.server.services import dashboard
from tests.api.test_dashboard_views import browser, run_for
from tests.conftest import Api


async def test_a_day_with_exactly_the_listed_number_of_runs_is_not_said_to_have_more(
    api: Api, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A day page lists at most DAY_RUNS runs; with exactly that many it said "3+ runs" and
    "Only the latest 3 runs of the day are listed" although none was left out."""
    monkeypatch.setattr(dashboard, "DAY_RUNS", 3)
    job = await api.define(name="counted", max_retries=0)
    for _ in range(3):
        await run_for(api, job, 10)
    day = api.clock.now().date().isoformat()
    async with browser(api) as b:
        page = (await b.get(f"/ui/jobs/{job['id']}/days/{day}")).text
        assert ">3 runs<" in page and "Only the latest" not in page
        assert len(re.findall(r'<tr class="run-', page)) == 3
        await run_for(api, job, 10)
        page = (await b.get(f"/ui/jobs/{job['id']}/days/{day}")).text
        assert ">3+ runs<" in page and "Only the latest 3 runs of the day" in page
        assert len(re.findall(r'<tr class="run-', page)) == 3
