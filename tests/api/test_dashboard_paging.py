"""The jobs table's pages (issues 18 and 22): 50 jobs a page, Previous/Next keeping the
filters and the order, the live fragment refreshing the same page, hostile ``page`` values
clipped (never an error), another environment's jobs never counted or shown. Real HTML from
the in-process server; SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re

from tests.api.test_dashboard_views import browser, names, other_env_key
from tests.conftest import Api

NAV = re.compile(r'<nav class="pager" aria-label="Pagination">(.*?)</nav>', re.S)
NEXT = re.compile(r'<a rel="next" href="([^"]+)">Next</a>')
PREV = re.compile(r'<a rel="prev" href="([^"]+)">Previous</a>')
DASH = "\u2013"  # the en dash of "Jobs 51\u2013100 of 500"
HX_VALS = re.compile(r"""hx-vals='([^']*)'""")


def nav(page: str) -> str:
    found = NAV.search(page)
    assert found, "no pagination nav"
    return found.group(1)


async def add_jobs(api: Api, n: int, headers: dict[str, str] | None = None,
                   prefix: str = "job") -> None:
    for i in range(n):
        kind = {"command": "true"} if i % 2 else {}
        await api.define(headers, name=f"{prefix}-{i:03d}", **kind)


async def test_pages_of_fifty_with_previous_and_next(api: Api) -> None:
    await add_jobs(api, 120)
    env2, key2 = await other_env_key(api)
    await add_jobs(api, 7, key2, prefix="other")
    async with browser(api) as b:
        first = (await b.get("/ui/jobs")).text
        assert names(first) == [f"job-{i:03d}" for i in range(50)]
        assert f"Jobs 1{DASH}50 of 120" in nav(first)
        assert "120 jobs" in first and "other-" not in first
        assert NEXT.search(first).group(1) == "/ui/jobs?page=2"
        assert not PREV.search(first)
        assert "hx-vals" not in first  # page 1 refreshes as page 1
        second = (await b.get("/ui/jobs?page=2")).text
        assert names(second) == [f"job-{i:03d}" for i in range(50, 100)]
        assert f"Jobs 51{DASH}100 of 120" in nav(second)
        assert PREV.search(second).group(1) == "/ui/jobs"
        assert NEXT.search(second).group(1) == "/ui/jobs?page=3"
        third = (await b.get("/ui/jobs?page=3")).text
        assert names(third) == [f"job-{i:03d}" for i in range(100, 120)]
        assert f"Jobs 101{DASH}120 of 120" in nav(third)
        assert not NEXT.search(third)
        assert PREV.search(third).group(1) == "/ui/jobs?page=2"
    async with browser(api, key2["x-api-key"]) as b:
        page = (await b.get("/ui/jobs?page=2")).text
        assert names(page) == [f"other-{i:03d}" for i in range(7)]
        assert "7 jobs" in page and 'aria-label="Pagination"' not in page  # one page: no nav
    assert env2


async def test_filters_sort_and_page_together(api: Api) -> None:
    await add_jobs(api, 120)  # 60 command jobs: job-001, job-003, ...
    commands = [f"job-{i:03d}" for i in range(1, 120, 2)]
    async with browser(api) as b:
        url = "/ui/jobs?type=command&sort=name&dir=desc&page=2"
        page = (await b.get(url)).text
        assert names(page) == sorted(commands, reverse=True)[50:]
        assert "60 of 120 jobs match" in page and f"Jobs 51{DASH}60 of 60" in nav(page)
        prev = html.unescape(PREV.search(page).group(1))
        assert prev == "/ui/jobs?type=command&sort=name&dir=desc"
        assert names((await b.get(prev)).text) == sorted(commands, reverse=True)[:50]
        # the sort headers keep the filters and go back to page 1
        heads = [html.unescape(h) for h in re.findall(r'<a class="sort" href="([^"]+)"', page)]
        assert "/ui/jobs?type=command&sort=name&dir=asc" in heads
        assert all("page=" not in h for h in heads)
        # a search narrows to one page: the page asked for is clipped to it
        page = (await b.get("/ui/jobs?q=job-11&page=3")).text
        assert names(page) == [f"job-{i}" for i in range(110, 120)]
        assert 'aria-label="Pagination"' not in page


async def test_bad_page_values_are_clipped_never_an_error(api: Api) -> None:
    await add_jobs(api, 60)
    page_one = [f"job-{i:03d}" for i in range(50)]
    last = [f"job-{i:03d}" for i in range(50, 60)]
    cases = {"": page_one, "0": page_one, "-1": page_one, "abc": page_one, "1.5": page_one,
             "%D9%A2": page_one, "\u00b2": page_one, " 2": last, "02": last, "3": last,
             "9" * 5000: last, "18446744073709551617": last, "+2": last, "%2B2": page_one,
             "2&page=1": page_one}  # a repeated parameter: the last one counts
    async with browser(api) as b:
        for value, expected in cases.items():
            for path in ("/ui/jobs", "/ui/live/jobs"):
                r = await b.get(f"{path}?page={value}")
                assert r.status_code == 200, (value, r.text[:300])
                assert names(r.text) == expected, value


async def test_live_fragment_refreshes_the_same_page(api: Api) -> None:
    await add_jobs(api, 120)
    async with browser(api) as b:
        page = (await b.get("/ui/jobs?sort=name&page=2")).text
        vals = HX_VALS.search(page)
        assert vals and html.unescape(vals.group(1)) == '{"page": "2"}'
        r = await b.get("/ui/live/jobs?sort=name&dir=asc&page=2", headers={"HX-Request": "true"})
        assert r.status_code == 200
        assert names(r.text) == [f"job-{i:03d}" for i in range(50, 100)]
        assert r.headers["HX-Replace-Url"] == "/ui/jobs?sort=name&dir=asc&page=2"
        assert "<html" not in r.text and 'aria-label="Pagination"' in r.text
        # the filter form sends no page: back to page 1, and so is the address bar
        r = await b.get("/ui/live/jobs?q=job&sort=name&dir=asc",
                        headers={"HX-Request": "true"})
        assert r.headers["HX-Replace-Url"] == "/ui/jobs?q=job&sort=name&dir=asc"
        assert names(r.text)[0] == "job-000"
        # a page that no longer exists (jobs deleted meanwhile) refreshes as the last one
        r = await b.get("/ui/live/jobs?page=7", headers={"HX-Request": "true"})
        assert r.headers["HX-Replace-Url"] == "/ui/jobs?page=3"
