"""herd: N sdk jobs due in the same second, SQLite, 4 worker processes, no-op handler.

Schedo: the N jobs are bulk-loaded with a schedule that is never due; the workers connect
(SDK worker runtime, bench/sdk_worker.py); then every job is rescheduled (SQL) to one whole
second ~2 s ahead and the ticker is poked. Lateness = pick_up_time - scheduled_for, read from
the server's database; "all completed" = the last end_time - the due second.

The same N then runs on APScheduler 3 (SQLAlchemy job store on SQLite) and on Celery beat + a
Celery worker with Redis, one after the other (never at the same time), each bounded by
``timeout`` seconds after its due second. Runs that had not happened by then count as
"later than the timeout" in the percentiles, which are then lower bounds (shown with ">").

``--hashed`` (issue 20): the same-second herd above (Schedo only) next to N jobs stored as
``H * * * *``, each with next_run_at set to its own resolved next fire (the server's domain
code, seeded by environment id and job name); the runs due in the next ``window`` seconds from
a whole minute are measured the same way, and the spread over an hour is computed from the
resolved schedules (max jobs due in one minute and in one second).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
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
        with Sampler(srv.pid) as sampler, Profiler(srv.pid, "herd-server", timeout + 2), \
                Profiler(procs[0].pid, "herd-worker", timeout + 2):
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
        "server_cpu_ms_per_run": cpu / n * 1000,
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
    hashed: bool = False,
) -> Report:
    if hashed:  # issue 20: `H * * * *` against the same-second herd, no baselines
        return run_hashed(size, workdir, n, timeout)
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
    per_run = s["server_cpu_ms_per_run"]
    rep.checks.append(
        Check("schedo server CPU per run (tick, claim, report)", "≤ 0.1 ms",
              f"{per_run:.2f} ms", per_run <= 0.1)
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


# -- herd --hashed: the same 10,000 jobs as `H * * * *` (issue 20) ------------------------------
HASHED_PREFIX = "herd-h-"
HASHED_EXPR = "H * * * *"
SAME_SECOND_EXPR = "0 * * * *"
HASHED_WINDOW = {"smoke": 60, "default": 120, "full": 180}


def _fire_times(expr: str, env: int, names: list[str], after: datetime) -> dict[str, int]:
    """Each job's next fire instant (epoch ms) after ``after``, read with the server's own
    domain code: ``schedules.schedule_of`` with the job's seed, as ``of_job`` does."""
    from schedo.server.domain import hashed, schedules

    out: dict[str, int] = {}
    for name in names:
        sched = schedules.schedule_of(expr, [], "UTC", after, hashed.seed_of(env, name))
        out[name] = int(sched.next_after(after).timestamp() * 1000)
    return out


def spread_of(expr: str, env: int, names: list[str]) -> dict[str, Any]:
    """How ``expr`` spreads ``names`` over one hour: each job's first fire in the hour after a
    whole hour, grouped by minute and by second (from the resolved schedules, no server)."""
    from schedo.server.domain import schedules

    hour = datetime(2026, 1, 1, tzinfo=UTC)
    fires = _fire_times(expr, env, names, hour - timedelta(milliseconds=1)).values()
    per_minute = Counter(t // 60_000 for t in fires)
    per_second = Counter(t // 1000 for t in fires)
    resolved = Counter(schedules.resolved(expr, env, nm) for nm in names)
    return {
        "expression": expr,
        "jobs": len(names),
        "max_in_one_minute": max(per_minute.values()),
        "min_in_a_used_minute": min(per_minute.values()),
        "minutes_used": len(per_minute),
        "max_in_one_second": max(per_second.values()),
        "seconds_used": len(per_second),
        "distinct_resolved": len(resolved),
    }


def run_hashed_window(
    n: int, processes: int, window: int, timeout: float, workdir: Path
) -> dict[str, Any]:
    """N sdk jobs stored as ``H * * * *``, each with its own resolved next fire time; the runs
    due in the ``window`` seconds from the next whole minute are measured."""
    srv = Server(fresh_db(workdir / "herd-hashed.db"), workdir).start()
    procs: list[Any] = []
    try:
        conn = loader.connect(srv.db_path)
        env = loader.env_id(conn)
        names = [f"{HASHED_PREFIX}{i:06d}" for i in range(n)]
        loader.insert_jobs(conn, env, ((nm, loader.NEVER, loader.never_ms()) for nm in names))
        procs = workers.spawn(srv, names, processes, workdir, "herd-hashed")
        workers.wait_connected(srv, procs, HASHED_PREFIX, n)
        # every `H * * * *` instant is a whole minute: rescheduled between hh:mm:01 and
        # hh:mm:50, each job's next fire is at or after the next whole minute, the window start
        sec = time.time() % 60
        if not 1.0 <= sec <= 50.0:
            time.sleep((61.0 - sec) % 60)
        now = time.time()
        w0 = (math.floor(now) // 60 + 1) * 60
        w1 = w0 + window
        nra = _fire_times(HASHED_EXPR, env, names, datetime.fromtimestamp(now, UTC))
        loader.reschedule(conn, env, [(nm, HASHED_EXPR, nra[nm]) for nm in names])
        poke_ticker(srv)
        if time.time() > w0 - 0.5:
            raise BenchError("rescheduling the hashed jobs took longer than their lead time")
        if min(nra.values()) < w0 * 1000:
            raise BenchError("a hashed job was due before the window")
        due_ms = sorted(t for t in nra.values() if t < w1 * 1000)
        expected = len(due_ms)
        cpu0 = proc_cpu_s(srv.pid)
        w0_ms, w1_ms = w0 * 1000, w1 * 1000
        with Sampler(srv.pid) as sampler:
            while time.time() < w1 + timeout:
                rows = [r for r in loader.runs(conn, HASHED_PREFIX, w0_ms) if r[0] < w1_ms]
                done = sum(1 for r in rows if r[3] == "completed")
                if time.time() >= w1 and done >= expected:
                    break
                time.sleep(0.5)
        cpu = proc_cpu_s(srv.pid) - cpu0
        worker_cpu = sum(proc_cpu_s(p.pid) for p in procs)
        rows = [r for r in loader.runs(conn, HASHED_PREFIX, w0_ms) if r[0] < w1_ms]
        # the server's own next_run_at after each tick: the next resolved instant, an hour on
        nxt = dict(
            conn.execute(
                "SELECT name, next_run_at FROM jobs WHERE name LIKE ?", (HASHED_PREFIX + "%",)
            ).fetchall()
        )
        fired = [nm for nm in names if nra[nm] < w1 * 1000]
        agrees = sum(1 for nm in fired if nxt.get(nm) == nra[nm] + 3_600_000)
        stored = Counter(
            str(e)
            for (e,) in conn.execute(
                "SELECT cron_expression FROM jobs WHERE name LIKE ?", (HASHED_PREFIX + "%",)
            )
        )
        conn.close()
    finally:
        workers.stop(procs)
        srv.stop()
    late = [(p - s) / 1000 for s, p, _e, _st, _c in rows if p is not None]
    statuses: dict[str, int] = dict(Counter(r[3] for r in rows))
    due_per_minute = Counter(t // 60_000 * 60 for t in due_ms)
    run_per_minute = Counter(s // 60_000 * 60 for s, *_ in rows)
    minutes = [w0 + 60 * k for k in range(math.ceil(window / 60))]
    return {
        "environment_id": env,
        "window_start": w0,
        "window_seconds": window,
        "stored_expressions": dict(stored),
        "due_in_window": expected,
        "server_next_run_at_is_resolved_plus_1h": agrees,
        "due_per_minute": [due_per_minute.get(m, 0) for m in minutes],
        "runs_per_minute": [run_per_minute.get(m, 0) for m in minutes],
        "max_due_in_one_second": max(Counter(t // 1000 for t in due_ms).values(), default=0),
        "runs": len(rows),
        "completed": statuses.get("completed", 0),
        "statuses": statuses,
        "lateness": summary(late, expected, timeout),
        "server_cpu_s": cpu,
        "workers_cpu_s": worker_cpu,
        "server_peak_rss_mb": sampler.peak_rss_kb / 1024,
    }


def run_hashed(size: str, workdir: Path, n: int | None, timeout: float | None) -> Report:
    p = dict(SIZES[size])
    p["window"] = HASHED_WINDOW[size]
    if n is not None:
        p["n"] = n
    if timeout is not None:
        p["timeout"] = timeout
    n, timeout, window = int(p["n"]), float(p["timeout"]), int(p["window"])
    rep = Report("herd-hashed", size, {**p, "hashed": True})
    same = run_schedo(n, int(p["workers"]), timeout, workdir)
    hw = run_hashed_window(n, int(p["workers"]), window, timeout, workdir)
    env = int(hw["environment_id"])
    names_h = [f"{HASHED_PREFIX}{i:06d}" for i in range(n)]
    names_0 = [f"{PREFIX}{i:06d}" for i in range(n)]
    spread = {
        "same_second": spread_of(SAME_SECOND_EXPR, env, names_0),
        "hashed": spread_of(HASHED_EXPR, env, names_h),
    }
    rep.results = {"same_second": same, "hashed": hw, "spread": spread}
    rep.headers = [
        "schedule (N jobs)",
        "max due in a minute (hour)",
        "max due in a second",
        "measured window",
        "due per minute",
        "runs done",
        "p50 late",
        "p99 late",
        "max late",
    ]
    s0, sh = spread["same_second"], spread["hashed"]
    for label, sp, win, per_min, r in (
        (f"`{SAME_SECOND_EXPR}` ({n:,}; the same-second herd)", s0, "the due second", str(n), same),
        (
            f"`{HASHED_EXPR}` ({n:,})",
            sh,
            f"{window} s from {time.strftime('%H:%M:%S', time.gmtime(hw['window_start']))}",
            ", ".join(map(str, hw["due_per_minute"])),
            hw,
        ),
    ):
        lt = r["lateness"]
        total = n if r is same else hw["due_in_window"]
        rep.rows.append(
            [
                label,
                f"{sp['max_in_one_minute']:,}",
                f"{sp['max_in_one_second']:,}",
                win,
                per_min,
                f"{r['completed']}/{total}",
                fmt_s(lt["p50"], lt["p50_censored"]),
                fmt_s(lt["p99"], lt["p99_censored"]),
                fmt_s(lt["max"], lt["max_censored"]),
            ]
        )
    rep.notes.append(
        f"spread (resolved schedules, environment {env}): `{HASHED_EXPR}` puts {n:,} jobs on "
        f"{sh['minutes_used']} minutes of the hour, {sh['min_in_a_used_minute']}-"
        f"{sh['max_in_one_minute']} a minute, all at second :00 of their minute (H here "
        f"hashes the minute only), so at most {sh['max_in_one_second']} due in one second "
        f"against {s0['max_in_one_second']:,} for `{SAME_SECOND_EXPR}`"
    )
    rep.notes.append(
        f"hashed window: jobs stored as {hw['stored_expressions']}, each next_run_at its own "
        f"resolved next fire; {hw['due_in_window']} due in the window, after which the server set "
        f"next_run_at of {hw['server_next_run_at_is_resolved_plus_1h']} of them to the resolved "
        f"instant an hour on"
        f" (runs created per minute "
        f"{hw['runs_per_minute']}); server CPU {hw['server_cpu_s']:.1f} s over the window and "
        f"drain, workers {hw['workers_cpu_s']:.1f} s, server peak RSS "
        f"{hw['server_peak_rss_mb']:.0f} MB; statuses {hw['statuses']}"
    )
    rep.notes.append(
        f"same-second herd: a one-shot 6-field expression at a whole second ~2 s ahead stands "
        f"for `{SAME_SECOND_EXPR}` at hh:00:00 (the same {n:,} runs in one second); all created "
        f"by {fmt_s(same['all_created_s'])}, all completed {fmt_s(same['all_completed_s'])} "
        f"after the due second; server CPU {same['server_cpu_s']:.1f} s"
    )
    if same["completed"] < n or hw["completed"] < hw["due_in_window"]:
        raise BenchError(
            f"herd --hashed: same-second {same['completed']}/{n}, hashed "
            f"{hw['completed']}/{hw['due_in_window']} completed within {timeout:.0f}s"
        )
    return rep
