"""kill -9 the server while jobs tick every second AND jobs and environments are deleted and
re-created under the same names (issue 23, after the fixes of points 1, 2 and 5): no tick is
created twice, none is missed, no row of a deleted job or environment is left behind, no
tenant sees another's rows, and pulls and the dashboard still read.

Real ``schedo serve`` processes on SQLite and PostgreSQL; the churn runs in a thread and
carries on through the kills (a request the kill cut is simply made again, or its effect is
found by name: every step is idempotent).
"""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import schedo.server.storage.schema_notify  # noqa: F401 - its tables join the metadata
from schedo.server.storage.db import Database
from schedo.server.storage.schema import metadata
from tests.support.server import ADMIN_KEY, ServerProcess, wait_until

STABLE = 8  # jobs of environment 1 that are never deleted
SECONDLY = "* * * * * *"
CHURNED = ("churn-a", "churn-b")  # the same names in every churned environment
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Churn(threading.Thread):
    """Creates environment churn-<i> with jobs churn-a and churn-b, deletes and re-creates churn-a,
    deletes and re-creates job ``churner`` of environment 1, deletes environment churn-<i-2>;
    then i+1. Goes on through server kills until ``stop``."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.steps = 0
        self.cut = 0  # requests cut by a kill (made again)
        self.fatal = ""

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            try:
                with httpx.Client(base_url=self.url, headers={"x-api-key": ADMIN_KEY},
                                  timeout=5) as c:
                    self._step(c, i)
                i, self.steps = i + 1, self.steps + 1
            except httpx.HTTPError:
                self.cut += 1
                self.stop.wait(0.2)  # the server is down: its restart is the test's job
            except Exception as exc:  # an answer no kill explains: the test fails on it
                self.fatal = f"{type(exc).__name__}: {exc}"
                return

    @staticmethod
    def _ok(r: httpx.Response, *also: int) -> httpx.Response:
        if r.status_code >= 500 or r.status_code not in (200, *also):
            raise AssertionError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text}")
        return r

    def _env(self, c: httpx.Client, name: str) -> int | None:
        envs = self._ok(c.get("/org/environments")).json()
        return next((e["id"] for e in envs if e["name"] == name), None)

    def _job(self, c: httpx.Client, env: dict[str, str], name: str) -> int | None:
        listed = self._ok(c.get("/jobs", headers=env)).json()
        return next((j["id"] for j in listed if j["name"] == name), None)

    def _define(self, c: httpx.Client, env: dict[str, str], name: str) -> None:
        self._ok(c.post("/jobs/definition", json={"name": name, "schedule": SECONDLY},
                        headers=env))

    def _renew(self, c: httpx.Client, env: dict[str, str], name: str) -> None:
        """Delete job ``name`` (if it is there) and define it again."""
        found = self._job(c, env, name)
        if found is not None:
            self._ok(c.delete(f"/jobs/{found}", headers=env), 404)
        self._define(c, env, name)

    def _step(self, c: httpx.Client, i: int) -> None:
        env_id = self._env(c, f"churn-{i}")
        if env_id is None:
            env_id = self._ok(c.post("/org/environments",
                                     json={"name": f"churn-{i}"})).json()["id"]
        env = {"X-API-ENVIRONMENT": str(env_id)}
        for name in CHURNED:
            self._define(c, env, name)
        self._renew(c, env, CHURNED[0])
        self._renew(c, {}, "churner")
        old = self._env(c, f"churn-{i - 2}") if i >= 2 else None
        if old is not None:
            self._ok(c.delete(f"/org/environments/{old}"), 404)


def _runs(c: httpx.Client, job_id: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        q = f"/jobs/executions/{job_id}?limit=200" + (f"&cursor={cursor}" if cursor else "")
        r = c.get(q, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        out.extend(page)
        if len(page) < 200:
            return out
        cursor = page[-1]["id"]


def _check_ticks(name: str, runs: list[dict[str, Any]]) -> int:
    """Every second from the job's first tick to its last is there exactly once."""
    at = sorted(datetime.fromisoformat(r["scheduled_for"].replace("Z", "+00:00"))
                for r in runs if r["trigger"] == "schedule")
    if not at:
        return 0
    assert len(at) == len(set(at)), f"{name}: a tick was created twice"
    span = int((at[-1] - at[0]).total_seconds()) + 1
    lost = sorted({at[0] + timedelta(seconds=s) for s in range(span)} - set(at))
    assert not lost, f"{name}: lost ticks {lost[:5]}"
    assert all(r["status"] != "skipped" for r in runs), f"{name}: a tick was skipped"
    return len(at)


async def _orphans(db_url: str) -> dict[str, int]:
    """Rows whose environment, job, run, notification or organisation no longer exists, per
    table and column (issue 23, point 1); with or without a foreign key."""
    db = Database(db_url, pool_size=1)
    parents = {"environment_id": "environments", "job_id": "jobs",
               "execution_id": "executions", "notification_id": "notifications",
               "organization_id": "organizations"}
    found: dict[str, int] = {}
    try:
        async with db.read() as c:
            for table in metadata.sorted_tables:
                for col, parent_name in parents.items():
                    parent = metadata.tables[parent_name]
                    if col not in table.c or table is parent:
                        continue
                    ref = table.c[col]
                    q = select(func.count()).select_from(table).where(
                        ref.is_not(None), ref.not_in(select(parent.c.id)))
                    n = int((await c.execute(q)).scalar_one())
                    if n:
                        found[f"{table.name}.{col}"] = n
    finally:
        await db.dispose()
    return found


def _tenancy(srv: ServerProcess, c: httpx.Client) -> dict[int, dict[str, str]]:
    """Each environment's key sees its own jobs and runs only; returns the keys."""
    envs = {e["id"]: e["name"] for e in c.get("/org/environments").json()}
    jobs_of: dict[int, set[int]] = {}
    keys: dict[int, dict[str, str]] = {}
    for env_id in envs:
        jobs_of[env_id] = {j["id"] for j in c.get(
            "/jobs", headers={"X-API-ENVIRONMENT": str(env_id)}).json()}
        made = c.post("/apikeys", json={"environment_id": env_id, "name": "tenant"}).json()
        keys[env_id] = {"x-api-key": made["key"]}
    names = ",".join([*CHURNED, "churner", *(f"tick-{i:02d}" for i in range(STABLE))])
    for env_id, key in keys.items():
        own = {j["id"] for j in httpx.get(f"{srv.url}/jobs", headers=key).json()}
        assert own == jobs_of[env_id], f"environment {envs[env_id]}: sees other jobs"
        for other, ids in jobs_of.items():
            for jid in ids - own if other != env_id else ():
                for path in (f"/jobs/{jid}", f"/jobs/executions/{jid}"):
                    r = httpx.get(srv.url + path, headers=key)
                    assert r.status_code == 404, f"{envs[env_id]} reads {path}: {r.text}"
        # a pull naming every job name of every tenant claims only its own runs
        r = httpx.get(f"{srv.url}/jobs/executions?jobs={names}&wait=0&limit=50", headers=key)
        assert r.status_code == 200, r.text
        assert {e["job_id"] for e in r.json()} <= own, f"{envs[env_id]} claimed another's run"
        if own:
            assert r.json(), f"{envs[env_id]}: nothing to claim although its jobs tick"
    return keys


def _dashboard(srv: ServerProcess, c: httpx.Client) -> None:
    job = c.get("/jobs").json()[0]
    run = _runs(c, job["id"], {})[0]
    with httpx.Client(base_url=srv.url, timeout=10) as b:
        token = CSRF.search(b.get("/ui/login").text)
        assert token
        b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token.group(1)})
        for path in ("/ui/jobs", f"/ui/jobs/{job['id']}",
                     f"/ui/jobs/{job['id']}/runs/{run['id']}", "/ui/settings"):
            r = b.get(path)
            assert r.status_code == 200, (path, r.text[:300])


@pytest.mark.slow
def test_kill_9_while_jobs_and_environments_churn(tmp_path: Path, db_url: str) -> None:
    srv = ServerProcess(db_url, tmp_path).start()
    with srv.client() as c:
        ids = [c.post("/jobs/definition", json={"name": f"tick-{i:02d}", "schedule": SECONDLY}
                      ).json()["id"] for i in range(STABLE)]
    first = ids[0]
    churn = Churn(srv.url)
    churn.start()

    def progressed(steps: int, ticks: int) -> bool:
        """The churn made 2 more steps and the first stable job 3 more ticks (or failed)."""
        if churn.fatal:
            return True
        with srv.client() as c:
            return churn.steps >= steps + 2 and len(_runs(c, first, {})) >= ticks + 3

    try:
        for kill in (True, True, True, False):  # 3 kills, then a last stretch
            with srv.client() as c:
                at = (churn.steps, len(_runs(c, first, {})))
            wait_until(lambda at=at: progressed(*at), 60, what="churn and ticks")
            assert not churn.fatal, churn.fatal
            if kill:
                srv.kill()
                srv = ServerProcess(db_url, tmp_path, port=srv.port).start()
    finally:
        churn.stop.set()
        churn.join(30)
    assert not churn.fatal, churn.fatal
    assert churn.steps >= 8 and churn.cut >= 1, (churn.steps, churn.cut)
    try:
        with srv.client() as c:
            ticked: dict[str, int] = {}
            for env in c.get("/org/environments").json():
                h = {"X-API-ENVIRONMENT": str(env["id"])}
                for job in c.get("/jobs", headers=h).json():
                    name = f"{env['name']}/{job['name']}"
                    ticked[name] = _check_ticks(name, _runs(c, job["id"], h))
            stable = [n for n in ticked if "/tick-" in n]
            assert len(stable) == STABLE
            assert all(ticked[n] >= 12 for n in stable), ticked
            _tenancy(srv, c)
            _dashboard(srv, c)
    finally:
        srv.stop()
    assert asyncio.run(_orphans(db_url)) == {}
    # and a restarted server serves the churned database as before
    srv = ServerProcess(db_url, tmp_path, port=srv.port).start()
    try:
        with srv.client() as c:
            assert c.get("/jobs").status_code == 200
    finally:
        srv.stop()
