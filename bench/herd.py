"""herd: N sdk jobs due in the same second, SQLite, 4 worker processes, no-op handler.

Schedo: the N jobs are bulk-loaded with a schedule that is never due; the workers connect
(SDK worker runtime, bench/sdk_worker.py); then every job is rescheduled (SQL) to one whole
second ~2 s ahead and the ticker is poked. Lateness = pick_up_time - scheduled_for, read from
the server's database; "all completed" = the last end_time - the due second.

The same N then runs on APScheduler 3 (SQLAlchemy job store on SQLite) and on Celery beat + a
Celery worker with Redis, one after the other (never at the same time), each bounded by
``timeout`` seconds after its due second. Runs that had not happened by then count as
"later than the timeout" in the percentiles, which are then lower bounds (shown with ">").
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from . import loader, workers
from .common import (
    BenchError,
    Check,
    Profiler,
    Report,
    Sampler,
    Server,
    fmt_ratio,
    fmt_s,
    fresh_db,
    poke_ticker,
    proc_cpu_s,
    summary,
)

PREFIX = "herd-"
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"n": 200, "workers": 4, "timeout": 15.0},
    "default": {"n": 10_000, "workers": 4, "timeout": 60.0},
    "full": {"n": 10_000, "workers": 4, "timeout": 120.0},
}


def run_schedo(n: int, processes: int, timeout: float, workdir: Path) -> dict[str, Any]:
    srv = Server(fresh_db(workdir / "herd.db"), workdir).start()
    procs: list[Any] = []
    try:
        conn = loader.connect(srv.db_path)
        env = loader.env_id(conn)
        names = [f"{PREFIX}{i:06d}" for i in range(n)]
        never = loader.never_ms()
        loader.insert_jobs(conn, env, ((nm, loader.NEVER, never) for nm in names))
        procs = workers.spawn(srv, names, processes, workdir, "herd")
        workers.wait_connected(srv, procs, PREFIX, n)
        due = math.floor(time.time()) + 2
        expr = loader.once_expr(due)
        cpu0 = proc_cpu_s(srv.pid)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE jobs SET cron_expression = ?, next_run_at = ? "
            "WHERE environment_id = ? AND name LIKE ?",
            (expr, due * 1000, env, PREFIX + "%"),
        )
        conn.execute("COMMIT")
        poke_ticker(srv)
        if time.time() > due - 0.2:
            raise BenchError("rescheduling the herd took longer than its lead time")
        timeline: list[tuple[float, int, int, int]] = []
        with Sampler(srv.pid) as sampler, Profiler(srv.pid, "herd-server", timeout + 2):
            deadline = due + timeout
            while time.time() < deadline:
                created, picked, done = loader.progress(conn, PREFIX, due * 1000)
                timeline.append((round(time.time() - due, 3), created, picked, done))
                if done >= n:
                    break
                time.sleep(0.1)
        worker_cpu = sum(proc_cpu_s(p.pid) for p in procs)
        cpu = proc_cpu_s(srv.pid) - cpu0
        rows = loader.runs(conn, PREFIX, due * 1000)
        conn.close()
    finally:
        workers.stop(procs)
        srv.stop()
    due_ms = due * 1000
    late = [(p - s) / 1000 for s, p, _e, _st, _c in rows if p is not None]
    ends = [
        (e - due_ms) / 1000 for _s, _p, e, st, _c in rows if e is not None and st == "completed"
    ]
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r[3]] = statuses.get(r[3], 0) + 1
    return {
        "due": due,
        "lateness": summary(late, n, timeout),
        "all_completed_s": max(ends) if len(ends) >= n else None,
        "completed": len(ends),
        "statuses": statuses,
        "all_created_s": _first(timeline, 1, n),
        "all_picked_s": _first(timeline, 2, n),
        "timeline": timeline,
        "workers_cpu_s": worker_cpu,
        "last_pickup_s": max(late) if late else None,
        "server_cpu_s": cpu,
        "server_peak_rss_mb": sampler.peak_rss_kb / 1024,
    }


def run_ticker_only(n: int, timeout: float, workdir: Path) -> dict[str, Any]:
    """The same herd with no worker connected: how long the ticker alone takes to create the
    N pending runs (sampled every 50 ms)."""
    srv = Server(fresh_db(workdir / "herd-ticker.db"), workdir).start()
    try:
        conn = loader.connect(srv.db_path)
        env = loader.env_id(conn)
        never = loader.never_ms()
        loader.insert_jobs(conn, env, ((f"{PREFIX}{i:06d}", loader.NEVER, never) for i in range(n)))
        due = math.floor(time.time()) + 2
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE jobs SET cron_expression = ?, next_run_at = ? WHERE environment_id = ?",
            (loader.once_expr(due), due * 1000, env),
        )
        conn.execute("COMMIT")
        poke_ticker(srv)
        cpu0 = proc_cpu_s(srv.pid)
        created = 0
        with Profiler(srv.pid, "herd-ticker-only", timeout):
            while time.time() < due + timeout:
                created = loader.progress(conn, PREFIX, due * 1000)[0]
                if created >= n:
                    break
                time.sleep(0.05)
        took = time.time() - due
        cpu = proc_cpu_s(srv.pid) - cpu0
        conn.close()
    finally:
        srv.stop()
    return {
        "created": created,
        "all_created_s": took if created >= n else None,
        "server_cpu_s": cpu,
    }


def _first(timeline: list[tuple[float, int, int, int]], col: int, n: int) -> float | None:
    """The first sampled time (s after due) at which column ``col`` reached ``n``."""
    return next((float(row[0]) for row in timeline if row[col] >= n), None)


def _baseline(
    results: list[tuple[float, float]], n: int, timeout: float, finished: bool
) -> dict[str, Any]:
    late = [r[0] for r in results]
    ends = [r[1] for r in results]
    return {
        "lateness": summary(late, n, timeout),
        "all_completed_s": max(ends) if len(ends) >= n else None,
        "completed": len(ends),
        "finished": finished,
    }


def run(
    size: str,
    workdir: Path,
    n: int | None = None,
    timeout: float | None = None,
    baselines: bool = True,
) -> Report:
    p = dict(SIZES[size])
    if n is not None:
        p["n"] = n
    if timeout is not None:
        p["timeout"] = timeout
    n, timeout = int(p["n"]), float(p["timeout"])
    rep = Report("herd", size, p)
    res: dict[str, Any] = {"schedo": run_schedo(n, int(p["workers"]), timeout, workdir)}
    res["schedo_ticker_only"] = run_ticker_only(n, timeout, workdir)
    if baselines:
        from .baselines import aps, celery_herd

        a = aps.run_herd(n, workdir, timeout)
        res["apscheduler"] = _baseline(
            [tuple(x) for x in a["results"]], n, timeout, bool(a["finished"])
        )
        res["apscheduler"]["setup_overran"] = a["setup_overran"]
        c = celery_herd.run_herd(n, workdir, timeout)
        res["celery"] = _baseline([tuple(x) for x in c["results"]], n, timeout, bool(c["finished"]))
        res["celery"]["setup_overran"] = c["setup_overran"]
        res["celery"]["beat_ready_after_due"] = c["beat_ready_after_due"]
    rep.results = res
    s = res["schedo"]
    rep.headers = [
        "system",
        "runs done",
        "p50 late",
        "p99 late",
        "max late",
        "all done",
        "p99 vs schedo",
    ]
    sp99 = s["lateness"]["p99"]
    for name, label in (
        ("schedo", "Schedo (SQLite, 4 SDK worker processes)"),
        ("apscheduler", "APScheduler 3 (SQLAlchemy store, SQLite)"),
        ("celery", "Celery beat + worker (Redis, prefork 4)"),
    ):
        if name not in res:
            continue
        r = res[name]
        lt = r["lateness"]
        ratio = lt["p99"] / sp99 if sp99 and name != "schedo" else math.nan
        r["p99_ratio_to_schedo"] = ratio
        r["p99_ratio_is_lower_bound"] = bool(lt["p99_censored"])
        rep.rows.append(
            [
                label,
                f"{r['completed']}/{n}",
                fmt_s(lt["p50"], lt["p50_censored"]),
                fmt_s(lt["p99"], lt["p99_censored"]),
                fmt_s(lt["max"], lt["max_censored"]),
                fmt_s(r["all_completed_s"])
                if r["all_completed_s"] is not None
                else f">{timeout:.0f} s",
                fmt_ratio(ratio, lt["p99_censored"]),
            ]
        )
    rep.checks.append(
        Check(
            "schedo p99 lateness",
            "≤ 1 s",
            fmt_s(sp99, s["lateness"]["p99_censored"]),
            not s["lateness"]["p99_censored"] and sp99 <= 1.0,
        )
    )
    done = s["all_completed_s"]
    rep.checks.append(
        Check(
            "schedo all completed after due second",
            "≤ 3 s",
            fmt_s(done) if done is not None else f">{timeout:.0f} s",
            done is not None and done <= 3.0,
        )
    )
    for name in ("apscheduler", "celery"):
        if name in res:
            r = res[name]
            rep.checks.append(
                Check(
                    f"p99 {name} / p99 schedo",
                    "≥ 10x",
                    fmt_ratio(r["p99_ratio_to_schedo"], r["p99_ratio_is_lower_bound"]),
                    r["p99_ratio_to_schedo"] >= 10,
                )
            )
            if r.get("setup_overran"):
                rep.notes.append(
                    f"{name}: setup ran past the due second; its lateness includes setup time"
                )
    rep.notes.append(
        f"schedo: all runs created by {fmt_s(s['all_created_s'])}, all picked up by "
        f"{fmt_s(s['all_picked_s'])} (sampled every 0.1 s); server CPU "
        f"{s['server_cpu_s']:.1f} s, workers CPU {s['workers_cpu_s']:.1f} s, server peak RSS "
        f"{s['server_peak_rss_mb']:.0f} MB; statuses {s['statuses']}"
    )
    t = res["schedo_ticker_only"]
    rep.notes.append(
        f"schedo, same herd with no worker connected: the ticker alone created all {n} runs "
        f"{fmt_s(t['all_created_s'])} after the due second (server CPU {t['server_cpu_s']:.1f} s)"
    )
    if s["completed"] < n:
        raise BenchError(
            f"schedo herd: only {s['completed']} of {n} runs completed "
            f"within {timeout:.0f}s ({s['statuses']})"
        )
    return rep
