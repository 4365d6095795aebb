"""interleave: two builds of the server side by side, their requests in alternating bursts, so
that a noisy shared machine slows both alike (what ``api`` run twice, one build after the
other, cannot give: on 2026-12-07 a route's CPU per request moved 30 % between two runs of
the same build).

``BENCH_AB_TREES="before=/path/a/src,after=/path/b/src"``: the source folders (on
``PYTHONPATH`` ahead of the installed package) of the two builds; unset, both are this
checkout (a check of the method: the ratios should be ~1.0). Each build gets its own server
and database (a fresh SQLite file, or with ``BENCH_API_DATABASE`` a fresh PostgreSQL
database each, as ``api``), the same jobs and runs. For each route, the two servers take
turns: a burst of ``burst`` seconds on one, then on the other, ``rounds`` times each (the
first build first in odd rounds, second in even ones); each server's CPU is read from /proc
around its own bursts only. The table gives server CPU per request of each build and the
second's over the first's, with ``/healthz`` of each as its floor.

``BENCH_AB_DATABASES="tcp=postgresql://…@127.0.0.1/db,socket=postgresql://…@/db?host=/run/…"``
instead compares one build on two databases (or two ways to reach one): each server gets its
own fresh database on the server of its URL, as ``BENCH_API_DATABASE`` would.

Routes: ``GET /healthz``, ``GET /jobs/{id}``, ``POST /jobs/definition`` unchanged (each job
is defined once before) and with ``metadata`` changed at every request, and
``POST /jobs/executions/complete/{id}`` (distinct running runs) and the pull of one
``GET /jobs/executions?jobs=<code>&wait=0&limit=1`` (64 codes in turn, a pool of pending runs
each); 16 keep-alive connections (bench/loadgen.py in this process).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import api, loader, loadgen, pgload
from .common import ADMIN_KEY, BenchError, Report, Server, proc_cpu_s

TREES_ENV = "BENCH_AB_TREES"
DATABASES_ENV = "BENCH_AB_DATABASES"
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"jobs": 100, "burst": 0.3, "rounds": 2, "connections": 16, "running": 20_000,
              "pull_pool": 100},
    "default": {"jobs": 1_000, "burst": 1.0, "rounds": 8, "connections": 16,
                "running": 120_000, "pull_pool": 400},
    "full": {"jobs": 1_000, "burst": 1.5, "rounds": 16, "connections": 16,
             "running": 300_000, "pull_pool": 1_000},
}


def _pairs(name: str) -> list[tuple[str, str]] | None:
    """The two ``label=value`` entries of ``$name`` (None: unset)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    out = [tuple(part.split("=", 1)) for part in text.split(",")]
    if len(out) != 2 or any(len(o) != 2 for o in out):
        raise BenchError(f"{name}: give two builds, label=value,label=value")
    return [(a.strip(), b) for a, b in out]


def _trees() -> list[tuple[str, str | None, str | None]]:
    """(label, source folder or None for this checkout, database URL or None for
    ``$BENCH_API_DATABASE``) of the two builds."""
    trees, dbs = _pairs(TREES_ENV), _pairs(DATABASES_ENV)
    if trees is not None and dbs is not None:
        raise BenchError(f"interleave: set {TREES_ENV} or {DATABASES_ENV}, not both")
    if trees is not None:
        for _label, path in trees:
            if not Path(path).is_dir():
                raise BenchError(f"{TREES_ENV}: {path!r} is not a source folder")
        return [(label, path, None) for label, path in trees]
    if dbs is not None:
        return [(label, None, url) for label, url in dbs]
    return [("this", None, None), ("this again", None, None)]


class _Build:
    """One build's server with its jobs and runs, and its requests per route."""

    def __init__(self, srv: Server, pg_url: str | None, p: dict[str, Any]) -> None:
        self.srv = srv
        rows = api._Rows(srv, pg_url)
        names = [f"{api.PREFIX}{i:05d}" for i in range(int(p["jobs"]))]
        ids = rows.jobs(names, api.PREFIX)
        per_job = -(-int(p["running"]) // len(names))
        rows.executions(ids, per_job, "running", loader.now_ms() - 3_600_000)
        self.running = rows.running_ids()
        # the pull's pool: 64 job codes with ``pull_pool`` pending runs each, due already
        codes = [f"pull-{i:03d}" for i in range(api.CLAIM_CODES)]
        rows.executions(rows.jobs(codes, "pull-", api.CLAIM_TIMEOUT_S), int(p["pull_pool"]),
                        "pending", loader.now_ms() - 3_600_000)
        self.used = 0  # running runs completed so far (each is completed once)
        port, auth = srv.port, {"x-api-key": ADMIN_KEY}
        healthz = loadgen.request("GET", "/healthz", port)
        get_job = [loadgen.request("GET", f"/jobs/{j}", port, auth) for j in ids.values()]
        define = [loadgen.request("POST", "/jobs/definition", port, auth, json.dumps(
            {"name": nm, "schedule": loader.NEVER}).encode()) for nm in names]
        changed = api._changing_definitions(names, port, auth)
        # each job defined once through the API before any burst: the loader's rows differ
        # from what a definition stores, so a job's first redefinition writes; the unchanged
        # route measures the ones after it
        with srv.client() as client:
            for nm in names:
                client.post("/jobs/definition", json={"name": nm, "schedule": loader.NEVER}
                            ).raise_for_status()
        ok = json.dumps({"success": True}).encode()

        def complete(i: int) -> bytes:
            return loadgen.request("POST", f"/jobs/executions/complete/{self.running[i]}",
                                   port, auth, ok)

        pulls = [loadgen.request("GET", f"/jobs/executions?jobs={c}&wait=0&limit=1", port,
                                 {**auth, "x-schedo-worker-id": f"bench-{c}"}) for c in codes]
        self.claimed = [0]
        self.makes: dict[str, Callable[[int], bytes]] = {
            "healthz": lambda i: healthz,
            "get_job": lambda i: get_job[i % len(get_job)],
            "define_update": lambda i: define[i % len(define)],
            "define_changed": changed,
            "complete": complete,
            "pull_1": lambda i: pulls[i % len(pulls)],
        }
        self.cpu: dict[str, float] = {}
        self.requests: dict[str, int] = {}

    def burst(self, route: str, p: dict[str, Any]) -> None:
        make = self.makes[route]
        offset = 0
        if route == "complete":  # each running run once: go on after the last burst's
            offset = self.used
            if offset >= len(self.running):
                raise BenchError("interleave: out of running runs; raise 'running'")
            inner = make
            make = lambda i: inner(offset + i)  # noqa: E731
        before = proc_cpu_s(self.srv.pid)
        res = loadgen.run(self.srv.port, make, connections=int(p["connections"]),
                          duration=float(p["burst"]), warmup=0.0,
                          max_requests=len(self.running) - offset if route == "complete"
                          else 10**7,
                          check=api._ok_pull(self.claimed) if route == "pull_1" else None)
        self.cpu[route] = self.cpu.get(route, 0.0) + proc_cpu_s(self.srv.pid) - before
        if res.errors:  # a pull that claimed nothing counts: the pool ran dry
            raise BenchError(f"interleave: {route}: {res.errors} failed requests "
                             f"({res.sample_error}); raise 'pull_pool' or 'running'")
        # every request sent was answered (warm-up 0: the burst's requests are all counted)
        self.requests[route] = self.requests.get(route, 0) + res.requests
        if route == "complete":
            self.used += res.requests

    def per_request_ms(self, route: str) -> float:
        n = self.requests.get(route, 0)
        return 1000 * self.cpu[route] / n if n else float("nan")


@contextlib.contextmanager
def _builds(workdir: Path, p: dict[str, Any]) -> Iterator[list[tuple[str, _Build]]]:
    database = os.environ.get(api.DATABASE_ENV) or None
    with contextlib.ExitStack() as stack:
        out = []
        for n, (label, src, url) in enumerate(_trees()):
            sub = workdir / f"build{n}"
            sub.mkdir(parents=True, exist_ok=True)
            old = os.environ.get("PYTHONPATH")
            if src is not None:  # the server process takes it from this environment
                os.environ["PYTHONPATH"] = os.pathsep.join([src, *([old] if old else [])])
            try:
                srv, pg_url, _info = stack.enter_context(api._server(sub, url or database))
            finally:
                if old is None:
                    os.environ.pop("PYTHONPATH", None)
                else:
                    os.environ["PYTHONPATH"] = old
            out.append((label, _Build(srv, pg_url, p)))
        yield out


def run(size: str, workdir: Path) -> Report:
    p = dict(SIZES[size])
    rep = Report("interleave", size, p)
    routes = ["healthz", "get_job", "define_update", "define_changed", "complete", "pull_1"]
    with _builds(workdir, p) as builds:
        (la, a), (lb, b) = builds
        for route in routes:
            for _warm in (a, b):
                _warm.burst(route, {**p, "burst": min(0.3, float(p["burst"]))})
                _warm.cpu.pop(route), _warm.requests.pop(route)
            for r in range(int(p["rounds"])):
                for build in ((a, b) if r % 2 == 0 else (b, a)):
                    build.burst(route, p)
        rep.headers = ["route", f"{la}: CPU/req", f"{lb}: CPU/req", f"{lb} / {la}",
                       f"{la}: vs /healthz", f"{lb}: vs /healthz", "requests"]
        ha, hb = a.per_request_ms("healthz"), b.per_request_ms("healthz")
        for route in routes:
            ca, cb = a.per_request_ms(route), b.per_request_ms(route)
            rep.rows.append([route, f"{ca:.3f} ms", f"{cb:.3f} ms", f"{cb / ca:.2f}",
                             f"{ha / ca:.2f}x", f"{hb / cb:.2f}x",
                             f"{a.requests[route]} / {b.requests[route]}"])
            rep.results[route] = {la: {"cpu_ms": ca, "requests": a.requests[route]},
                                  lb: {"cpu_ms": cb, "requests": b.requests[route]}}
        on_pg = os.environ.get(api.DATABASE_ENV) or os.environ.get(DATABASES_ENV)
        rep.database = {"kind": "postgresql" if on_pg else "sqlite"}
        shown = {label: [src, url and pgload.shown(url)] for label, src, url in _trees()}
        rep.notes.append(f"builds (source, database): {shown}; {p['rounds']} bursts of "
                         f"{p['burst']} s per build and route, alternating, "
                         f"{p['connections']} connections; "
                         "vs /healthz is CPU per request of /healthz over the route's")
    return rep
