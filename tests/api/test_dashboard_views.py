"""The dashboard's health views (issue 22): the jobs table's sorting, tag filter and duration
trends; the job page's day strip and day pages; the overview's "what needs you". Real HTML from
the in-process server, two tenants, hostile query values; SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ROW_NAME = re.compile(r'<a class="jobname" href="/ui/jobs/\d+">([^<]+)</a>')


@asynccontextmanager
async def browser(api: Api, key: str = ADMIN_KEY) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        token = CSRF.search((await b.get("/ui/login")).text)
        assert token
        r = await b.post("/ui/login", data={"api_key": key, "csrf": token.group(1)})
        assert r.status_code in (200, 303), r.text
        yield b


async def run_for(api: Api, job: dict, ms: int | None, success: bool = True) -> int:
    """A manual run of ``job`` (an sdk job) taken by a worker and ended ``ms`` milliseconds
    later (None: left pending)."""
    h = api.admin
    r = await api.client.post(f"/jobs/trigger/{job['id']}", headers=h)
    assert r.status_code == 200, r.text
    run = int(r.json()["id"])
    if ms is None:
        return run
    got = await api.client.get(f"/jobs/executions?jobs={job['name']}&wait=0", headers=h)
    assert [e["id"] for e in got.json()] == [run], got.text
    api.clock.advance(ms / 1000)
    r = await api.client.post(f"/jobs/executions/complete/{run}", headers=h, json={
        "success": success, "error": None if success else "boom"})
    assert r.status_code == 200, r.text
    api.clock.advance(1)
    return run


def names(page: str) -> list[str]:
    return ROW_NAME.findall(page)


async def other_env_key(api: Api) -> tuple[int, dict[str, str]]:
    r = await api.client.post("/org/environments", json={"name": "staging"}, headers=api.admin)
    assert r.status_code == 200, r.text
    env_id = int(r.json()["id"])
    return env_id, await api.env_key(env_id, "staging-key")


async def test_jobs_table_sorts_filters_by_tag_and_shows_duration_trends(api: Api) -> None:
    slow = await api.define(name="b-slow", max_retries=0)
    fast = await api.define(name="a-fast", max_retries=0)
    tagged = await api.define(name="c-backup", command="pg_dump",
                              target={"tags": ["db", "eu"], "mode": "any"})
    await api.define(name="d-other", command="true", target={"tags": ["web"], "mode": "any"})
    for ms in (4000, 6000, 5000):
        await run_for(api, slow, ms)
    await run_for(api, fast, 120)
    await run_for(api, fast, 80, success=False)
    await run_for(api, tagged, None)
    _env2, key2 = await other_env_key(api)
    await api.define(headers=key2, name="zz-foreign", max_retries=0)

    async with browser(api) as b:
        page = (await b.get("/ui/jobs")).text
        assert names(page) == ["b-slow", "a-fast", "c-backup", "d-other"]  # creation order
        assert "zz-foreign" not in page and "aria-sort" not in page
        by_name = (await b.get("/ui/jobs?sort=name")).text
        assert names(by_name) == ["a-fast", "b-slow", "c-backup", "d-other"]
        assert ('<th scope="col" aria-sort="ascending"><a class="sort" '
                'href="/ui/jobs?sort=name&amp;dir=desc">Name') in by_name
        assert names((await b.get("/ui/jobs?sort=name&dir=desc")).text) == [
            "d-other", "c-backup", "b-slow", "a-fast"]
        dur = (await b.get("/ui/live/jobs?sort=duration&dir=desc")).text
        assert names(dur) == ["b-slow", "a-fast", "c-backup", "d-other"]  # no duration: last
        assert 'aria-sort="descending"' in dur
        assert names((await b.get("/ui/jobs?sort=status")).text)[0] == "a-fast"  # failing first
        # the trend: median and last of the finished runs, a polyline with one point each
        row = dur[dur.index(">b-slow</a>"):]
        row = row[:row.index("</tr>")]
        assert "median 5.0 s, last 5.0 s" in row and row.count(",") >= 3
        assert len(re.search(r'points="([^"]+)"', row).group(1).split()) == 3  # type: ignore[union-attr]
        fast_row = dur[dur.index(">a-fast</a>"):]
        assert "median 100 ms, last 80 ms" in fast_row[:fast_row.index("</tr>")]
        # the tag filter: the tags of the environment's command jobs; keeps the sort
        tags = (await b.get("/ui/jobs?tag=db&sort=name&dir=desc")).text
        assert names(tags) == ["c-backup"]
        assert '<option value="db" selected>' in tags and '<option value="web">' in tags
        assert 'href="/ui/jobs?tag=db&amp;sort=name&amp;dir=asc"' in tags  # header flips
        assert names((await b.get("/ui/jobs?tag=web&type=command&q=d-")).text) == ["d-other"]
        # bad values are ignored (clipped), never an error
        for bad in ("sort=drop%20table", "sort=name&dir=sideways", "tag=nosuch",
                    "tag=" + "x" * 5000,
                    "sort=" + "%00" * 50, "dir=desc", "status=nope&type=%FF&tag=%27",
                    "sort=name&sort=status", "q=" + "%F0%9F%92%A3" * 300):
            for url in ("/ui/jobs?", "/ui/live/jobs?"):
                r = await b.get(url + bad)
                assert r.status_code == 200, (bad, r.status_code)
                assert set(names(r.text)) <= {"a-fast", "b-slow", "c-backup", "d-other"}
        assert names((await b.get("/ui/jobs?tag=nosuch")).text) == names(page)
    async with browser(api, key2["x-api-key"]) as b:
        page = (await b.get("/ui/jobs?sort=duration")).text
        assert names(page) == ["zz-foreign"] and "no job has target tags" in page
        assert names((await b.get("/ui/jobs?tag=db")).text) == ["zz-foreign"]  # not its tag


DAY_CELL = re.compile(r'<li class="day (\w+)"><a href="/ui/jobs/(\d+)/days/([\d-]+)" '
                      r'title="([^"]+)">')


async def test_job_page_day_strip_and_day_pages(api: Api) -> None:
    job = await api.define(name="daily", max_retries=0)
    jid = job["id"]
    first_day = api.clock.now().date()
    ok = await run_for(api, job, 1000)
    api.clock.advance(86_400)
    failed = await run_for(api, job, 1000, success=False)
    api.clock.advance(86_400)
    mixed = [await run_for(api, job, 500), await run_for(api, job, 500, success=False)]
    api.clock.advance(86_400)
    pending = await run_for(api, job, None)
    _env2, key2 = await other_env_key(api)
    foreign = await api.define(headers=key2, name="daily", max_retries=0)

    async with browser(api) as b:
        page = (await b.get(f"/ui/jobs/{jid}")).text
        cells = DAY_CELL.findall(page)
        assert len(cells) == 30 and all(int(j) == jid for _, j, _, _ in cells)
        assert cells[-1][2] == api.clock.now().date().isoformat()  # today, last
        assert [c[0] for c in cells[-4:]] == ["ok", "bad", "warn", "open"]
        assert {c[0] for c in cells[:-4]} == {"empty"}
        assert cells[-4][2] == first_day.isoformat()
        assert cells[-4][3] == f"{first_day.isoformat()}: 1 succeeded"
        assert cells[-2][3].endswith(": 1 succeeded, 1 failed")
        assert cells[-1][3].endswith(": 1 pending, running or cancelled")
        assert f'<span class="visually-hidden">{cells[-3][3]}</span>' in page
        day = (await b.get(cells[-2][2].join((f"/ui/jobs/{jid}/days/", "")))).text
        assert re.findall(rf'href="/ui/jobs/{jid}/runs/(\d+)">#', day) == [
            str(i) for i in reversed(mixed)]  # newest first
        assert "2 runs" in day and f"/days/{cells[-3][2]}" in day and f"/days/{cells[-1][2]}" in day
        for d, runs in ((cells[-4][2], [ok]), (cells[-3][2], [failed]), (cells[-1][2], [pending]),
                        ("2001-02-03", [])):
            r = await b.get(f"/ui/jobs/{jid}/days/{d}")
            assert r.status_code == 200
            assert re.findall(rf'href="/ui/jobs/{jid}/runs/(\d+)">#', r.text) == [
                str(i) for i in runs]
        assert "No run of this job was scheduled on that day." in (
            await b.get(f"/ui/jobs/{jid}/days/2001-02-03")).text
        for bad in ("2026-13-01", "2026-02-30", "yesterday", "0001-01-01", "1969-12-31",
                    "99999-01-01", "2026-1-1", "%00", "2026-01-01%0A", "9999-12-31"):
            r = await b.get(f"/ui/jobs/{jid}/days/{bad}")
            assert r.status_code == 400, (bad, r.status_code)
            assert "day: a date" in r.text
        last = (await b.get(f"/ui/jobs/{jid}/days/9999-12-30")).text
        assert "9999-12-29" in last and "/days/9999-12-31" not in last
        first = (await b.get(f"/ui/jobs/{jid}/days/1970-01-01")).text
        assert "/days/1969-12-31" not in first
        # another environment's job answers like a missing one
        for url in (f"/ui/jobs/{foreign['id']}/days/2001-02-03", "/ui/jobs/999999/days/2001-02-03"):
            r = await b.get(url)
            assert r.status_code == 404 and "daily" not in r.text.split("<main", 1)[-1]
    async with browser(api, key2["x-api-key"]) as b:
        r = await b.get(f"/ui/jobs/{jid}/days/{cells[-2][2]}")
        assert r.status_code == 404
        mine = (await b.get(f"/ui/jobs/{foreign['id']}")).text
        assert {c[0] for c in DAY_CELL.findall(mine)} == {"empty"}  # env 1's runs never count


def needs_section(page: str, heading_id: str) -> str:
    start = page.index(f'id="{heading_id}"')
    return page[start:page.index("</section>", start)]


async def test_overview_lists_what_needs_you_now(api: Api) -> None:
    h = api.admin
    broken = await api.define(name="broken", max_retries=0)
    await run_for(api, broken, 10, success=False)
    await run_for(api, broken, 10, success=False)
    autop = await api.define(name="self-pausing", max_retries=0, pause_after_failures=1)
    await run_for(api, autop, 10, success=False)
    quiet = await api.define(name="quiet", max_retries=0)
    r = await api.client.patch(f"/jobs/mute/{quiet['id']}", json={"muted": True}, headers=h)
    assert r.status_code == 200, r.text
    fine = await api.define(name="fine", max_retries=0)
    await run_for(api, fine, 10)
    stuck = await api.define(name="stuck", max_retries=0, timeout_seconds=600)
    expiring = await api.define(name="expiring", max_retries=0, timeout_seconds=30)
    r = await api.client.post(f"/jobs/trigger/{expiring['id']}", headers=h)
    gone = int(r.json()["id"])
    api.clock.advance(31)
    assert [e.id for e in await api.svc.store.expire_overdue(api.clock.now())] == [gone]
    r = await api.client.post(f"/jobs/trigger/{stuck['id']}", headers=h)
    late = int(r.json()["id"])
    env2, key2 = await other_env_key(api)
    other = await api.define(headers=key2, name="foreign-broken", max_retries=0)
    r = await api.client.post(f"/jobs/trigger/{other['id']}", headers=key2)
    await api.client.get("/jobs/executions?jobs=foreign-broken&wait=0", headers=key2)
    await api.client.post(f"/jobs/executions/complete/{r.json()['id']}", headers=key2,
                          json={"success": False, "error": "x"})

    async with browser(api) as b:
        for url in ("/ui/", "/ui/live/overview"):
            page = (await b.get(url)).text
            assert "foreign-broken" not in page and "Nothing needs you" not in page
            failing = needs_section(page, "failing-h")
            assert failing.index(">broken</a>") < failing.index(">self-pausing</a>")
            assert "failed 2 times in a row" in failing and ">fine</a>" not in failing
            assert "late-h" not in page  # nothing is due over a minute ago yet
            missed = needs_section(page, "missed-h")
            assert f'href="/ui/jobs/{expiring["id"]}/runs/{gone}">expiring run #{gone}' in missed
            # "due 31 s ago", as the late runs say it (it read "for 31 s ago")
            assert f'run #{gone}</a> <span class="help">due <time' in missed
            paused = needs_section(page, "autopaused-h")
            assert ">self-pausing</a>" in paused and ">broken</a>" not in paused
            assert ">quiet</a>" in needs_section(page, "muted-h")
        api.clock.advance(120)  # the stuck run waits past a minute; the */5 ticks are overdue
        page = (await b.get("/ui/live/overview")).text
        late_part = needs_section(page, "late-h")
        assert f'href="/ui/jobs/{stuck["id"]}/runs/{late}">stuck run #{late}' in late_part
        assert "nothing has taken it" in late_part
        api.clock.advance(86_400)  # a day later the expiry is no longer "last 24 hours"
        page = (await b.get("/ui/")).text
        assert "missed-h" not in page
    async with browser(api, key2["x-api-key"]) as b:
        page = (await b.get("/ui/")).text
        assert ">foreign-broken</a>" in needs_section(page, "failing-h")
        for name in ("broken", "quiet", "stuck", "expiring", "self-pausing"):
            assert f">{name}</a>" not in page
    r = await api.client.post("/org/environments", json={"name": "calm"}, headers=h)
    key3 = await api.env_key(int(r.json()["id"]), "calm-key")
    async with browser(api, key3["x-api-key"]) as b:
        assert "Nothing needs you" in (await b.get("/ui/")).text
    assert env2


@contextmanager
def counted(api: Api) -> Iterator[list[str]]:
    """The SQL statements the server runs meanwhile."""
    db = api.svc.store.db
    engines = {id(e): e for e in (db.read_engine, db.write_engine)}
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    targets = [getattr(e, "sync_engine", e) for e in engines.values()]
    for t in targets:
        event.listen(t, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        for t in targets:
            event.remove(t, "before_cursor_execute", count)


async def test_pages_read_a_bounded_number_of_statements(api: Api) -> None:
    """No query per row: 3 or 30 jobs with runs cost the same number of statements for the
    jobs table (every sort), the overview and a job page."""
    async def add_jobs(first: int, n: int) -> int:
        last = 0
        for i in range(first, first + n):
            job = await api.define(name=f"bulk-{i:03d}", max_retries=0,
                                   command="true", target={"tags": [f"t{i % 3}"], "mode": "any"})
            r = await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)
            assert r.status_code == 200
            last = job["id"]
        return last

    urls = ["/ui/jobs", "/ui/live/jobs?sort=duration&dir=desc", "/ui/jobs?sort=status&tag=t1",
            "/ui/live/overview", "/ui/"]
    job_id = await add_jobs(0, 3)
    async with browser(api) as b:
        async def statements(url: str) -> int:
            with counted(api) as seen:
                assert (await b.get(url)).status_code == 200
            return len(seen)

        few = {u: await statements(u) for u in urls}
        few_job = await statements(f"/ui/jobs/{job_id}")
        job_id = await add_jobs(3, 27)
        many = {u: await statements(u) for u in urls}
        assert all(n > 0 for n in few.values()), few
        assert many == few
        assert await statements(f"/ui/jobs/{job_id}") == few_job
