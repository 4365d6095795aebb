"""The jobs table's filters, sort and page in SQL (``dashboard.jobs_table``) give exactly what
the table gave when it loaded every job and filtered and sorted them in Python (the oracle
below is that code, kept here), on SQLite and PostgreSQL: every status, type, tag and name
filter, every sort both ways, every page, over a seeded set with every status, waiting and
moved-on retries, names that collide once lowercased (ASCII and not), tags that are also a
host name or a target mode, ties in every sort key, and a second environment's lookalikes."""

from __future__ import annotations

from dataclasses import replace
from itertools import product
from typing import Any

from sqlalchemy import update

from schedo.server.domain.model import JobStatus, JobType
from schedo.server.domain.records import Job
from schedo.server.services import dashboard
from schedo.server.services.context import Principal, Services
from schedo.server.storage.contracts import JOB_SORTS
from schedo.server.storage.schema import executions, jobs
from schedo.server.web.paging import page_number
from schedo.server.web.queries import STATUS_FILTERS, TYPE_FILTERS
from tests.conftest import Api
from tests.contract.kit import T0, at, spec

SIZE = 4  # jobs a page: the seeded set fills several
ME = Principal(key_id=1, org_id=1, env_id=1, admin=True, key_env_id=None)


# -- the oracle: the jobs table before (8004a51), every job loaded and filtered in Python ------


def old_filter(jobs_: list[Job], q: str, status: str, kind: str,
               retries: dict[int, Any]) -> list[Job]:
    needle = q.strip().lower()
    out = []
    for j in jobs_:
        if needle and needle not in j.name.lower() and needle not in (j.webhook_url or "").lower():
            continue
        if kind and j.type.value != kind:
            continue
        if status == "paused" and not j.paused:
            continue
        if status == "active" and j.paused:
            continue
        if status == "muted" and not j.muted:
            continue
        if status == "failed" and not dashboard.is_failing(j, retries):
            continue
        if status == "pending" and (j.status is not JobStatus.PENDING or j.id in retries):
            continue
        if status in (JobStatus.COMPLETED, JobStatus.RUNNING) and j.status != status:
            continue
        out.append(j)
    return out


def old_tags(targets: list[dict[str, object] | None]) -> list[str]:
    found: set[str] = set()
    for target in targets:
        tags = (target or {}).get("tags")
        if isinstance(tags, list):
            found.update(str(t) for t in tags)
    return sorted(found)


class Oracle:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.orders: dict[tuple[str, bool], dict[int, int]] = {}

    async def load(self) -> None:
        self.all = await self.svc.store.list_jobs(ME.env_id)
        self.retries = await dashboard.waiting_retries(self.svc, ME, self.all)
        self.tags = old_tags([j.target for j in self.all])
        for key, desc in product(JOB_SORTS, (False, True)):
            ids = await self.svc.store.job_order(ME.env_id, key, desc)
            self.orders[key, desc] = {job_id: i for i, job_id in enumerate(ids)}

    def table(self, q: str, status: str, kind: str, tag: str, sort: str, desc: bool,
              page: str) -> tuple[Any, ...]:
        tag = tag if tag in self.tags else ""
        selected = old_filter(self.all, q[:200], status, kind, self.retries)
        if tag:
            selected = [j for j in selected if tag in ((j.target or {}).get("tags") or [])]
        if selected and sort in JOB_SORTS:
            place = self.orders[sort, desc]
            selected = sorted(selected, key=lambda j: (place.get(j.id, len(place)), j.id))
        number = page_number(page, len(selected), SIZE)
        shown = selected[(number - 1) * SIZE: number * SIZE]
        retries = {j.id: self.retries[j.id] for j in shown if j.id in self.retries}
        return len(self.all), len(selected), number, [j.id for j in shown], retries


async def new_table(svc: Services, q: str, status: str, kind: str, tag: str, sort: str,
                    desc: bool, page: str) -> tuple[Any, ...]:
    t = await dashboard.jobs_table(
        svc, ME, q=q[:200], status=status, kind=kind, tag=tag, sort=sort, descending=desc,
        page_of=lambda matched: page_number(page, matched, SIZE), size=SIZE)
    assert t.tags == ["any", "db", "eu"]  # the tag filter's options, whatever the filters
    return t.total, t.matched, t.number, [j.id for j in t.jobs], t.retries


# -- the seeded set ----------------------------------------------------------------------------

PUSH = {"type": JobType.PUSH, "webhook_url": "https://Example.COM/Hook"}
CMD = {"type": JobType.COMMAND, "command": "true"}
# name, definition, then the row's columns
SEED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("alpha", {}, {"status": "completed", "last_run_at": at(10), "next_run_at": at(400)}),
    ("Alpha-2", {}, {"status": "completed", "last_run_at": at(10), "next_run_at": at(400)}),
    ("ALPHA_3", PUSH, {"status": "failed", "last_run_at": at(20), "next_run_at": at(400)}),
    ("a%b_c", {}, {"status": "running", "last_run_at": at(20), "next_run_at": None}),
    ("Éclair", {}, {"status": "pending", "last_run_at": None, "next_run_at": at(300)}),
    ("éclair", PUSH, {"status": "pending", "retry_count": 1, "last_run_at": at(30)}),
    ("İstanbul", CMD | {"target": {"tags": ["db", "eu"], "mode": "any"}},
     {"status": "pending", "retry_count": 2, "last_run_at": at(30)}),  # retry waits
    ("istanbul", CMD | {"target": {"host": "db"}},
     {"status": "failed", "paused": True, "last_run_at": at(5)}),
    ("STRASSE", CMD | {"target": {"tags": ["any"], "mode": "all"}},
     {"status": "completed", "muted": True, "last_run_at": at(5), "next_run_at": at(300)}),
    ("straße", CMD | {"target": {"tags": ["db"], "mode": "any"}},
     {"status": "running", "paused": True, "muted": True, "next_run_at": None}),
    ("zeta", CMD, {"status": "pending", "next_run_at": at(300)}),
    ("beta", PUSH | {"webhook_url": "https://hooks.example.org/ALPHA"},
     {"status": "completed", "last_run_at": at(10), "next_run_at": at(300)}),
    ("gamma", {}, {"status": "failed", "paused": True, "last_run_at": at(20)}),
    ("delta", {}, {"status": "pending", "retry_count": 1}),  # its latest run: moved on
    ("epsilon", {}, {"status": "pending", "muted": True, "last_run_at": at(10)}),
]
DURATIONS = {"alpha": 500, "Alpha-2": 500, "ALPHA_3": 100, "beta": None, "gamma": 500,
             "zeta": 100, "straße": 9000}


async def _seed(api: Api) -> None:
    store = api.svc.store
    made: dict[str, Job] = {}
    for name, definition, _ in SEED:
        job, created = await store.upsert_job(ME.env_id, replace(spec(name), **definition), T0,
                                              at(300), True)
        assert created
        made[name] = job
    other = await store.create_environment(1, "staging", "sig-two", T0)
    for name in ("alpha", "istanbul", "zz-other"):  # lookalikes of another environment
        await store.upsert_job(other.id, replace(spec(name), **CMD, target={
            "tags": ["db", "other-only"], "mode": "any"}), T0, at(300), True)
    for name, ms in DURATIONS.items():
        run = await store.trigger(ME.env_id, made[name].id, at(1))
        values = {"status": "completed", "duration": ms}
        async with store.db.write() as c:
            await c.execute(update(executions).where(executions.c.id == run.id).values(**values))
    for name, waits in (("éclair", True), ("İstanbul", True), ("delta", False)):
        run = await store.trigger(ME.env_id, made[name].id, at(2))
        values = ({"trigger": "retry", "attempt": 2, "due_at": at(60)} if waits
                  else {"status": "completed", "duration": 7})
        async with store.db.write() as c:
            await c.execute(update(executions).where(executions.c.id == run.id).values(**values))
    # last: a manual run sets its job's status and counts
    async with store.db.write() as c:
        for name, _, values in SEED:
            await c.execute(update(jobs).where(jobs.c.id == made[name].id).values(
                **{"retry_count": 0, "paused": False, "muted": False, **values}))


QS = ("", "alpha", "é", "i", "ss", "example.com", "%", "_3", "  ALPHA  ", "nothing")
TAGS = ("", "db", "any", "other-only")
PAGES = ("", "2", "99", "x")


async def test_the_sql_jobs_table_matches_the_python_one(api: Api) -> None:
    await _seed(api)
    oracle = Oracle(api.svc)
    await oracle.load()
    assert oracle.retries.keys() == {j.id for j in oracle.all
                                     if j.name in ("éclair", "İstanbul")}  # the seed works
    assert oracle.tags == ["any", "db", "eu"]
    seen: set[tuple[int, ...]] = set()
    cases = [(q, st, k, tag, "", False, "") for q, st, k, tag in
             product(("", "alpha", "i", "é"), STATUS_FILTERS, TYPE_FILTERS, TAGS)]
    cases += [(q, "", "", "", "name", False, "") for q in QS]
    cases += [("", st, "", "", sort, desc, page) for st, sort, desc, page in
              product(STATUS_FILTERS, ("", *JOB_SORTS), (False, True), PAGES)]
    cases += [(q, "", k, tag, sort, desc, "2") for q, k, tag, sort, desc in
              product(("alpha", "i"), ("", "command"), ("", "db"), JOB_SORTS, (False, True))]
    for case in cases:
        want = oracle.table(*case)
        assert await new_table(api.svc, *case) == want, case
        seen.add(tuple(want[3]))
    assert len(seen) > 100  # the cases select many different pages, not all the same one
