"""The job page's history (issue 18 reads the newest page and the duration chart in one
query): the newest 20 runs with a link to older ones, the chart of the last 60 durations,
and the older pages by cursor with the same chart."""

from __future__ import annotations

import re

import httpx

from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
RUN_LINK = re.compile(r'href="/ui/jobs/\d+/runs/(\d+)"')
BAR = re.compile(r"<title>Run #(\d+): ")
OLDER = re.compile(r'\?before=(\d+)#runs">Older runs')


async def test_job_page_lists_newest_runs_and_charts_the_last_sixty(api: Api) -> None:
    h = api.admin
    job = await api.define(name="long-history", max_retries=0)
    ids = []
    for i in range(70):
        r = await api.client.post(f"/jobs/trigger/{job['id']}", headers=h)
        ids.append(int(r.json()["id"]))
        if i != 69:  # the newest stays pending: no duration, no bar
            start = 1_795_867_200_000 + i * 1000
            done = await api.client.post(
                f"/jobs/executions/complete/{ids[-1]}", headers=h,
                json={"success": True, "start_server_time_utc": start,
                      "complete_server_time_utc": start + 10 + i})
            assert done.status_code == 200, done.text
        api.clock.advance(1)
    newest_first = ids[::-1]
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        token = CSRF.search((await b.get("/ui/login")).text)
        assert token
        await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token.group(1)})
        page = (await b.get(f"/ui/jobs/{job['id']}")).text
        listed = list(dict.fromkeys(int(x) for x in RUN_LINK.findall(page)))
        assert listed == newest_first[:20]
        assert [int(x) for x in OLDER.findall(page)] == [newest_first[19]]
        bars = [int(x) for x in BAR.findall(page)]
        # the last 60 runs, oldest left; the pending newest has no duration
        assert bars == list(reversed(newest_first[1:60]))
        older = (await b.get(f"/ui/jobs/{job['id']}?before={newest_first[19]}")).text
        listed = list(dict.fromkeys(int(x) for x in RUN_LINK.findall(older)))
        assert listed == newest_first[20:40]
        assert [int(x) for x in BAR.findall(older)] == bars  # the chart stays the newest
        last = (await b.get(f"/ui/jobs/{job['id']}?before={newest_first[59]}")).text
        assert list(dict.fromkeys(int(x) for x in RUN_LINK.findall(last))) == newest_first[60:]
        assert OLDER.findall(last) == []
