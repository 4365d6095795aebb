"""api: requests per second with 64 concurrent keep-alive connections, as a ratio to the same
server's ``/healthz`` (the ceiling of the HTTP stack) measured in the same run, and p99 latency.

Routes: ``POST /jobs/definition`` (update of an existing job, same schedule: after the
first request of each job an unchanged redefinition, as a worker's start sends, which writes
nothing; and again with ``metadata`` changed at every request, which writes),
``GET /jobs/{id}``, ``GET /jobs`` of an environment with one job (its own environment and
key, made through the API), ``GET /jobs/executions/{id}?limit=20`` (20 runs of history each; before
2026-12-07 (4) the bench asked without ``limit`` and got the API's page of 50, as the second
row of the run list still does), completion
``POST /jobs/executions/complete/{id}`` (one report per request, each of a distinct running
execution), and the batch extension ``POST /jobs/executions/complete`` (50 reports a request,
8 connections), and ``GET /jobs/{id}`` once more on a single connection.
Then the worker routes that claim: the pull ``GET /jobs/executions?jobs=<code>&wait=0`` with
``limit=1`` (one pending run claimed per request: the cost of a claim) and ``limit=10`` (what a
busy SDK worker gets per pull), each request naming one of 64 job codes in turn, and the SSE
claim ``GET /jobs/executions/sse`` (64 streams, one job code each, ``limit=10``), measured in
runs delivered per second (bench/sseload.py: an SSE response never ends, so bench/loadgen.py
cannot drive it). Each of these three gets its own jobs and pool of pending runs, loaded just
before it runs (after the other routes, whose data they leave as it was); the pool's due times
interleave its 64 jobs, like a backlog of jobs due at the same ticks (with each job's runs in
one block of due times instead, a claim on SQLite, which has no planner statistics, walks the
other jobs' pending runs through ix_executions_pending_type: ~6 ms a claim at 64,000 pending).
For the same reason what is left of a pool is deleted before the next route: it would be due
earlier than the next pool and walked past by each of its claims.

Database: a fresh SQLite file by default. ``BENCH_API_DATABASE=postgresql://user@127.0.0.1/db``
runs the same routes on PostgreSQL instead, against that server's own ``/healthz``: the bench
creates a database ``bench_api_<random>`` there (the URL's database is only where it connects
to do so), serves it, and drops it at the end, failure included (bench/pgload.py).

Jobs and executions are bulk-loaded with SQL (bench/loader.py, bench/pgload.py). The load
generator is bench/loadgen.py, in this process; it shares the 2 cores with the server, so its
CPU share is reported too.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import loader, loadgen, sseload
from .common import (
    ADMIN_KEY,
    BenchError,
    Profiler,
    Report,
    Server,
    fmt_ratio,
    fresh_db,
    proc_cpu_s,
)

PREFIX = "api-"
DATABASE_ENV = "BENCH_API_DATABASE"
# pending runs per job code for the claim routes (64 codes each): the pool lasts the route's
# warm-up + duration at the rates seen on this machine; a route that empties it stops early
# (measured over the time it ran) and says so in a note
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "jobs": 200,
        "duration": 1.0,
        "warmup": 0.3,
        "connections": 64,
        # 300 batches of 50 and 15,000 single reports: 8,000 (80 batches) could all be
        # reported within the 0.3 s warm-up when the machine was quiet, leaving none to measure
        "running": 30_000,
        "pull_pool": 40,
        "pull10_pool": 200,
        "sse_pool": 200,
    },
    "default": {
        "jobs": 1_000,
        "duration": 8.0,
        "warmup": 1.0,
        "connections": 64,
        "running": 60_000,
        "pull_pool": 200,
        "pull10_pool": 1_000,
        "sse_pool": 1_000,
    },
    "full": {
        "jobs": 10_000,
        "duration": 20.0,
        "warmup": 2.0,
        "connections": 64,
        "running": 150_000,
        "pull_pool": 400,
        "pull10_pool": 2_000,
        "sse_pool": 2_000,
    },
}
BATCH = 50
BATCH_CONNECTIONS = 8
CLAIM_CODES = 64  # job codes of each claim route (one per connection / stream)
CLAIM_TIMEOUT_S = 3600  # claimed runs stay running (not expired) until the bench ends


class _Rows:
    """The bulk loader for the server's database: bench/loader.py on the SQLite file, or
    bench/pgload.py on the PostgreSQL database (same rows)."""

    def __init__(self, srv: Server, pg_url: str | None) -> None:
        self.srv, self.pg_url = srv, pg_url
        if pg_url is not None:
            from . import pgload

            self.pg: Any = pgload
            self.env = pgload.env_id(pg_url)
        else:
            with self._sqlite() as conn:
                self.env = loader.env_id(conn)

    @contextlib.contextmanager
    def _sqlite(self) -> Iterator[sqlite3.Connection]:
        conn = loader.connect(self.srv.db_path)
        try:
            yield conn
        finally:
            conn.close()

    def jobs(self, names: list[str], prefix: str, timeout_seconds: int = 60) -> dict[str, int]:
        """sdk jobs named ``names``, never due; their ids by name (every job of ``prefix``)."""
        never = loader.never_ms()
        rows = [(nm, loader.NEVER, never) for nm in names]
        if self.pg_url is not None:
            self.pg.insert_jobs(self.pg_url, self.env, rows, timeout_seconds)
            ids: dict[str, int] = self.pg.job_ids(self.pg_url, self.env, prefix)
            return ids
        with self._sqlite() as conn:
            loader.insert_jobs(conn, self.env, rows, timeout_seconds)
            return loader.job_ids(conn, self.env, prefix)

    def executions(self, ids: dict[str, int], per_job: int, status: str, base_ms: int) -> None:
        """``per_job`` runs of every job: completed, running, or pending (claimable, with
        CLAIM_TIMEOUT_S)."""
        if self.pg_url is not None:
            timeout = CLAIM_TIMEOUT_S if status == "pending" else 60
            self.pg.insert_executions(self.pg_url, self.env, ids, per_job, status, base_ms, timeout)
            return
        with self._sqlite() as conn:
            if status == "pending":
                loader.insert_pending(conn, self.env, ids, per_job, base_ms, CLAIM_TIMEOUT_S)
            else:
                loader.insert_executions(conn, self.env, ids, per_job, status, base_ms)

    def drop_pending(self, prefix: str) -> None:
        """Delete what is left of a claim route's pool: pending runs due earlier than the
        next pool's would be walked past by every later claim (see the module's docstring)."""
        if self.pg_url is not None:
            self.pg.delete_pending(self.pg_url, prefix)
            return
        with self._sqlite() as conn:
            conn.execute(
                "DELETE FROM executions WHERE status = 'pending' AND job_code LIKE ?",
                (prefix + "%",),
            )

    def running_ids(self) -> list[int]:
        if self.pg_url is not None:
            ids: list[int] = self.pg.ids_with_status(self.pg_url, "running", PREFIX)
            return ids
        with self._sqlite() as conn:
            return [
                int(r[0])
                for r in conn.execute(
                    "SELECT id FROM executions WHERE status = 'running' ORDER BY id"
                )
            ]


@contextlib.contextmanager
def _server(
    workdir: Path, database: str | None
) -> Iterator[tuple[Server, str | None, dict[str, Any]]]:
    """The server under test, its PostgreSQL URL (None on SQLite), and the report's
    ``database`` entry. A PostgreSQL database of our own is dropped when the block ends."""
    with contextlib.ExitStack() as stack:
        if not database:
            version = sqlite3.sqlite_version
            srv = Server(fresh_db(workdir / "api.db"), workdir).start()
            stack.callback(srv.stop)
            info = {
                "kind": "sqlite",
                "version": version,
                "label": f"SQLite {version} (fresh file, WAL)",
            }
            yield srv, None, info
            return
        from . import pgload

        try:
            version = pgload.server_version(database)
            url = stack.enter_context(pgload.fresh_database(database))
        except Exception as exc:  # a bad URL, no server, no right to create a database
            raise BenchError(f"api: PostgreSQL at {pgload.shown(database)!r}: {exc}") from exc
        shown = pgload.shown(url)
        info = {
            "kind": "postgresql",
            "version": version,
            "url": shown,
            "label": f"PostgreSQL {version.split()[0]} ({shown}, fresh database)",
        }
        # PostgreSQL needs the sealing key of webhook signature keys from the environment
        key = base64.b64encode(os.urandom(32)).decode()
        srv = Server(
            workdir / "unused.db", workdir, {"SCHEDO_SECRET_KEY": key}, database_url=url
        ).start()
        stack.callback(srv.stop)
        yield srv, url, info


def _changing_definitions(names: list[str], port: int, auth: dict[str, str]
                          ) -> Callable[[int], bytes]:
    """Request ``i`` redefines one of the jobs with ``metadata`` changed: the write path."""
    def make(i: int) -> bytes:
        body = {"name": names[i % len(names)], "schedule": loader.NEVER, "metadata": {"v": i}}
        return loadgen.request("POST", "/jobs/definition", port, auth, json.dumps(body).encode())

    return make


def _environment_with_one_job(srv: Server) -> str:
    """A new environment with one job defined in it; the key of that environment."""
    with srv.client() as c:
        env = c.post("/org/environments", json={"name": "bench-one-job"})
        env.raise_for_status()
        made = c.post("/apikeys", json={"environment_id": env.json()["id"], "name": "bench"})
        made.raise_for_status()
        key = str(made.json()["key"])
        job = c.post("/jobs/definition", headers={"x-api-key": key},
                     json={"name": "only-job", "schedule": loader.NEVER})
        job.raise_for_status()
        listed = c.get("/jobs", headers={"x-api-key": key})
        if [j["name"] for j in listed.json()] != ["only-job"]:
            raise BenchError(f"GET /jobs of the one-job environment: {listed.text[:200]}")
    return key


def _ok_pull(counter: list[int]) -> Callable[[int, bytes], bool]:
    """Check of a pull response: at least one run claimed; counts the claimed runs."""

    def check(_status: int, body: bytes) -> bool:
        got = len(json.loads(body))
        counter[0] += got
        return got > 0

    return check


def _ok_batch(_status: int, body: bytes) -> bool:
    return all(item["status"] == 200 for item in json.loads(body))


def run(
    size: str, workdir: Path, duration: float | None = None, database: str | None = None
) -> Report:
    """``database``: a postgresql:// URL (default: ``$BENCH_API_DATABASE``; unset or empty:
    a fresh SQLite file)."""
    p = dict(SIZES[size])
    if duration is not None:
        p["duration"] = duration
    if database is None:
        database = os.environ.get(DATABASE_ENV) or None
    rep = Report("api", size, p)
    results: dict[str, Any] = {}
    labels: dict[str, tuple[str, int]] = {}
    with _server(workdir, database) as (srv, pg_url, info):
        rep.database = info
        rows = _Rows(srv, pg_url)
        n_jobs = int(p["jobs"])
        names = [f"{PREFIX}{i:05d}" for i in range(n_jobs)]
        ids = rows.jobs(names, PREFIX)
        base = loader.now_ms() - 86_400_000
        rows.executions(ids, 20, "completed", base)
        per_job = math.ceil(int(p["running"]) / n_jobs)
        rows.executions(ids, per_job, "running", base + 10_000_000)
        running = rows.running_ids()
        half = len(running) // 2
        singles, batched = running[:half], running[half:]
        job_id_list = list(ids.values())
        port = srv.port
        auth = {"x-api-key": ADMIN_KEY}
        healthz = loadgen.request("GET", "/healthz", port)
        get_job = [loadgen.request("GET", f"/jobs/{j}", port, auth) for j in job_id_list]
        # each job has 20 completed runs and 60 running ones: ``limit=20`` lists the 20 runs
        # the route is measured with (issue 18); without it the API's page is 50 (second row)
        get_runs = [
            loadgen.request("GET", f"/jobs/executions/{j}?limit=20", port, auth)
            for j in job_id_list
        ]
        get_runs_50 = [
            loadgen.request("GET", f"/jobs/executions/{j}", port, auth) for j in job_id_list
        ]
        # GET /jobs as issue 18 measures it: the list of an environment with one job (an
        # environment and key of its own, made through the API as a user would)
        one_key = _environment_with_one_job(srv)
        list_one = loadgen.request("GET", "/jobs", port, {"x-api-key": one_key})
        define = [
            loadgen.request(
                "POST",
                "/jobs/definition",
                port,
                auth,
                json.dumps({"name": nm, "schedule": loader.NEVER}).encode(),
            )
            for nm in names
        ]
        define_changed = _changing_definitions(names, port, auth)
        ok = json.dumps({"success": True}).encode()

        def complete(i: int) -> bytes:
            return loadgen.request(
                "POST", f"/jobs/executions/complete/{singles[i]}", port, auth, ok
            )

        def complete_batch(i: int) -> bytes:
            chunk = batched[i * BATCH : (i + 1) * BATCH]
            body = json.dumps({"results": [{"id": e, "success": True} for e in chunk]})
            return loadgen.request("POST", "/jobs/executions/complete", port, auth, body.encode())

        def claim_pool(prefix: str, per_code: int) -> list[str]:
            """CLAIM_CODES new jobs with ``per_code`` pending runs each, due already."""
            codes = [f"{prefix}{i:03d}" for i in range(CLAIM_CODES)]
            claim_ids = rows.jobs(codes, prefix, CLAIM_TIMEOUT_S)
            rows.executions(claim_ids, per_code, "pending", loader.now_ms() - 3_600_000)
            return codes

        def pull_route(prefix: str, limit: int, pool_key: str) -> Callable[[], Any]:
            def prepare() -> Any:
                per_code = int(p[pool_key])
                codes = claim_pool(prefix, per_code)
                pulls = [
                    loadgen.request(
                        "GET",
                        f"/jobs/executions?jobs={c}&wait=0&limit={limit}",
                        port,
                        {**auth, "x-schedo-worker-id": f"bench-{prefix}{c}"},
                    )
                    for c in codes
                ]
                counter = [0]
                # request i names code i % 64: each code gets per_code // limit requests
                # at most, every one of which claims `limit` runs
                max_requests = CLAIM_CODES * (per_code // limit)
                make = lambda i: pulls[i % len(pulls)]  # noqa: E731
                return make, max_requests, _ok_pull(counter), counter, CLAIM_CODES * per_code

            return prepare

        routes: list[tuple[str, str, Callable[[int], bytes], int, Any, int]] = [
            ("healthz", "GET /healthz", lambda i: healthz, 10**7, None, 1),
            ("get_job", "GET /jobs/{id}", lambda i: get_job[i % len(get_job)], 10**7, None, 1),
            (
                "get_job_1conn",
                "GET /jobs/{id} (1 connection)",
                lambda i: get_job[i % len(get_job)],
                10**7,
                None,
                1,
            ),
            ("list_one", "GET /jobs (one job)", lambda i: list_one, 10**7, None, 1),
            (
                "get_executions",
                "GET /jobs/executions/{id}?limit=20",
                lambda i: get_runs[i % len(get_runs)],
                10**7,
                None,
                1,
            ),
            (
                "get_executions_50",
                "GET /jobs/executions/{id} (a page of 50)",
                lambda i: get_runs_50[i % len(get_runs_50)],
                10**7,
                None,
                1,
            ),
            (
                "define_update",
                "POST /jobs/definition (update, unchanged)",
                lambda i: define[i % len(define)],
                10**7,
                None,
                1,
            ),
            (
                "define_changed",
                "POST /jobs/definition (update, a field changed)",
                define_changed,
                10**7,
                None,
                1,
            ),
            ("complete", "POST /jobs/executions/complete/{id}", complete, len(singles), None, 1),
            (
                "complete_batch",
                f"POST /jobs/executions/complete ({BATCH}/request, 8 conns)",
                complete_batch,
                len(batched) // BATCH,
                _ok_batch,
                BATCH,
            ),
        ]
        claim_routes: list[tuple[str, str, Callable[[], Any], int, str]] = [
            (
                "pull_1",
                "GET /jobs/executions?jobs=<code>&wait=0&limit=1 (pull)",
                pull_route("pull1-", 1, "pull_pool"),
                1,
                "pull1-",
            ),
            (
                "pull_10",
                "GET /jobs/executions?jobs=<code>&wait=0&limit=10 (pull)",
                pull_route("pull10-", 10, "pull10_pool"),
                10,
                "pull10-",
            ),
        ]
        db = _DbProbe(pg_url)
        for key, label, make, limit, check, per in routes:
            _measure(srv, p, results, key, label, make, limit, check, per, db)
            labels[key] = (label, per)
        for key, label, prepare, per, prefix in claim_routes:
            make, limit, check, counter, pool = prepare()
            r = _measure(srv, p, results, key, label, make, limit, check, per, db)
            r["items"] = counter[0]
            r["items_per_request"] = counter[0] / r["requests"] if r["requests"] else math.nan
            r["pool"] = pool
            r["pool_emptied"] = r["seconds"] < float(p["duration"]) - 0.05
            rows.drop_pending(prefix)
            labels[key] = (label, per)
        key, label = "sse", f"GET /jobs/executions/sse ({CLAIM_CODES} streams, limit=10; runs/s)"
        codes = claim_pool("sse-", int(p["sse_pool"]))
        results[key] = _measure_sse(srv, p, codes, auth, db)
        labels[key] = (label, 1)
        key, label = "healthz_again", "GET /healthz (again, at the end)"
        _measure(srv, p, results, key, label, lambda i: healthz, 10**7, None, 1, db)
        labels[key] = (label, 1)
    ceiling = _table(rep, results, labels)
    results["healthz_ceiling_rps"] = ceiling
    results["database"] = rep.database
    rep.results = results
    rep.notes.append(f"database: {rep.database['label']}; one server process")
    rep.notes.append(
        f"{p['connections']} keep-alive connections, bench/loadgen.py in one "
        f"process (uvloop); each route {p['warmup']} s warm-up + "
        f"{p['duration']} s measured"
    )
    rep.notes.append(
        f"pull rows: each request names one of {CLAIM_CODES} job codes in turn (wait=0) and "
        "claims that many pending runs (due times interleaving the 64 jobs); items/s = runs "
        "claimed per second. SSE row: "
        f"{CLAIM_CODES} streams of one job code each (bench/sseload.py), runs delivered per "
        "second compared with /healthz req/s; no latency (a stream is one request)"
    )
    if rep.database["kind"] == "postgresql":
        rep.notes.append(
            "PG sessions opened: pg_stat_database.sessions over the route (approximate: "
            "backends report it up to ~1 s late); the server's pool keeps up to 20 connections "
            "(2 x SCHEDO_DB_POOL_SIZE) open"
        )
    sse = results["sse"]
    rep.notes.append(
        f"SSE: {sse['streams_started']}/{CLAIM_CODES} streams answered (the last "
        f"{sse['head_max_s']:.2f} s after they were opened, all at once)"
    )
    for key, (label, _per) in labels.items():
        r = results[key]
        if r.get("pool_emptied") or r.get("drained"):
            rep.notes.append(
                f"{label}: its pool of {r['pool']} pending runs was all claimed "
                f"{r['seconds']:.1f} s into the measurement (measured that long)"
            )
    return rep


class _DbProbe:
    """Sessions opened on our PostgreSQL database between two readings (a connection pool
    that opens and closes connections under load shows here; approximate: see
    pgload.sessions); nothing for SQLite. The CPU of PostgreSQL's backends is not measured:
    short-lived ones are gone before they can be read, and the postmaster's total of its
    exited children mixes in every other database of a shared server."""

    def __init__(self, pg_url: str | None) -> None:
        self.pg_url = pg_url

    def read(self) -> int:
        if self.pg_url is None:
            return 0
        from . import pgload

        return pgload.sessions(self.pg_url)

    def since(self, before: int) -> dict[str, Any]:
        if self.pg_url is None:
            return {}
        return {"database_sessions_opened": self.read() - before}


def _table(rep: Report, results: dict[str, Any], labels: dict[str, tuple[str, int]]) -> float:
    """Fill ``rep``'s table from ``results``; returns the /healthz ceiling (req/s). On
    PostgreSQL a column gives the sessions the server opened during each route."""
    ceiling: float = (results["healthz"]["rps"] + results["healthz_again"]["rps"]) / 2
    pg = rep.database.get("kind") == "postgresql"
    rep.headers = [
        "route",
        "req/s",
        "vs /healthz",
        "items/s",
        "p50 ms",
        "p99 ms",
        "server CPU/req",
        "server CPU",
        *(["PG sessions opened"] if pg else []),
        "client CPU",
    ]
    for key, (label, per) in labels.items():
        r = results[key]
        sse = key == "sse"  # no requests: one event per claimed run, compared as one
        rate = r["events_per_s"] if sse else r["rps"]
        r["ratio_to_healthz"] = rate / ceiling if ceiling else math.nan
        items_s = rate if sse else r["rps"] * r.get("items_per_request", per)
        rep.rows.append(
            [
                label,
                "-" if sse else f"{r['rps']:.0f}",
                fmt_ratio(r["ratio_to_healthz"]),
                f"{items_s:.0f}",
                "-" if sse else f"{r['latency_p50_ms']:.1f}",
                "-" if sse else f"{r['latency_p99_ms']:.1f}",
                f"{r['server_cpu_ms_per_request']:.2f} ms{'/run' if sse else ''}",
                f"{100 * r['server_cpu_share']:.0f}%",
                *([str(r["database_sessions_opened"])] if pg else []),
                f"{100 * r['client_cpu_share']:.0f}%",
            ]
        )
    return ceiling


def _measure(
    srv: Server,
    p: dict[str, Any],
    results: dict[str, Any],
    key: str,
    label: str,
    make: Callable[[int], bytes],
    limit: int,
    check: Any,
    per: int,
    db: _DbProbe,
) -> dict[str, Any]:
    cpu0, t0 = time.process_time(), time.perf_counter()
    srv_cpu0, db0 = proc_cpu_s(srv.pid), db.read()
    profile = Profiler(srv.pid, f"api-{key}", float(p["duration"]) + float(p["warmup"]))
    # the batch extension gets 8 connections: 64 in-flight batches of 50 would only
    # queue on the single SQLite writer (and take seconds to drain at the end); one
    # row shows GET /jobs/{id} without concurrency, for comparison
    conns = {"complete_batch": BATCH_CONNECTIONS, "get_job_1conn": 1}.get(
        key, int(p["connections"])
    )
    with profile:
        res = loadgen.run(
            srv.port,
            make,
            conns,
            float(p["duration"]),
            float(p["warmup"]),
            limit,
            check,
        )
    elapsed = time.perf_counter() - t0
    client_cpu = (time.process_time() - cpu0) / elapsed
    server_cpu = (proc_cpu_s(srv.pid) - srv_cpu0) / elapsed
    # server CPU per request: over warm-up + measurement, so divide by both's requests
    total_requests = res.requests * (elapsed / res.seconds) if res.seconds else 0
    results[key] = {
        **res.to_json(),
        "client_cpu_share": client_cpu,
        "server_cpu_share": server_cpu,
        "server_cpu_ms_per_request": 1000 * server_cpu * elapsed / max(1.0, total_requests),
        "items_per_request": per,
        **db.since(db0),
    }
    if res.errors:
        raise BenchError(f"api {label}: {res.errors} errors (e.g. {res.sample_error})")
    if res.requests == 0:
        raise BenchError(f"api {label}: no request completed")
    out: dict[str, Any] = results[key]
    return out


def _measure_sse(
    srv: Server,
    p: dict[str, Any],
    codes: list[str],
    auth: dict[str, str],
    db: _DbProbe,
) -> dict[str, Any]:
    per_code = int(p["sse_pool"])
    paths = [f"/jobs/executions/sse?jobs={c}&limit=10" for c in codes]
    cpu0, t0 = time.process_time(), time.perf_counter()
    srv_cpu0, db0 = proc_cpu_s(srv.pid), db.read()
    with Profiler(srv.pid, "api-sse", float(p["duration"]) + float(p["warmup"])):
        res = sseload.run(
            srv.port,
            paths,
            auth,
            [per_code] * len(paths),
            float(p["duration"]),
            float(p["warmup"]),
        )
    elapsed = time.perf_counter() - t0
    server_cpu_s = proc_cpu_s(srv.pid) - srv_cpu0
    if res.errors or res.duplicates:
        raise BenchError(
            f"api SSE: {len(res.errors)} errors, {res.duplicates} runs delivered twice "
            f"(e.g. {res.errors[:1]})"
        )
    if res.events == 0:
        raise BenchError("api SSE: no run delivered in the measured window")
    return {
        **res.to_json(),
        "pool": per_code * len(paths),
        "client_cpu_share": (time.process_time() - cpu0) / elapsed,
        "server_cpu_share": server_cpu_s / elapsed,
        **db.since(db0),
        # over the whole route (warm-up and the streams' start included): per run delivered
        "server_cpu_ms_per_request": 1000 * server_cpu_s / max(1, res.total_events),
        "rps": res.rate,
    }
