"""APScheduler 3 baselines.

herd: a ``BackgroundScheduler`` with its ``SQLAlchemyJobStore`` on a SQLite file and the default
executor (a thread pool of 10), in its own process. N date-triggered jobs due in the same
second are bulk-loaded into the job store's table in one transaction (the rows
``SQLAlchemyJobStore.add_job`` writes, pickled job state included), then the scheduler runs
them. ``misfire_grace_time=None`` so that late runs still run (APScheduler 3's default of 1 s
would drop them and hide the lateness). Lateness = the handler's start - the due instant.

precision: a ``BackgroundScheduler`` with the in-memory job store, in the benchmark process,
running a job every second (``CronTrigger(second='*')``); lateness = start - the whole second.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..common import ROOT, BenchError, clean_env

_RESULTS: list[tuple[float, float]] = []  # (start - due, end - due) of each run
_DONE = threading.Event()
_EXPECTED = 0


def record(due: float) -> None:
    """The no-op job: note when it started and ended."""
    start = time.time()
    _RESULTS.append((start - due, time.time() - due))
    if len(_RESULTS) >= _EXPECTED:
        _DONE.set()


def _herd_main(n: int, db: Path, out: Path, timeout: float) -> None:
    global _EXPECTED
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.job import Job
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.util import datetime_to_utc_timestamp

    _EXPECTED = n
    store = SQLAlchemyJobStore(url=f"sqlite:///{db}")
    sched = BackgroundScheduler(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(10)},
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    sched.start(paused=True)  # creates the table
    t0 = time.time()
    due = math.ceil(t0 + 1.5 + n * 0.0002)
    due_dt = datetime.fromtimestamp(due, UTC)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        job = Job(
            sched,
            id=f"herd-{i:06d}",
            func="bench.baselines.aps:record",
            args=(float(due),),
            kwargs={},
            trigger=DateTrigger(run_date=due_dt),
            executor="default",
            name=f"herd-{i:06d}",
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            next_run_time=due_dt,
        )
        rows.append(
            {
                "id": job.id,
                "next_run_time": datetime_to_utc_timestamp(due_dt),
                "job_state": pickle.dumps(job.__getstate__(), store.pickle_protocol),
            }
        )
    with store.engine.begin() as conn:
        conn.execute(store.jobs_t.insert(), rows)
    loaded = time.time()
    sched.resume()
    finished = _DONE.wait(max(0.0, due + timeout - time.time()))
    sched.shutdown(wait=False)
    out.write_text(
        json.dumps(
            {
                "due": due,
                "setup_seconds": loaded - t0,
                "setup_overran": loaded > due - 0.2,
                "finished": finished,
                "results": list(_RESULTS),
            }
        )
    )


def run_herd(n: int, workdir: Path, timeout: float) -> dict[str, Any]:
    """Run the herd in a child process; returns its JSON (due, results, ...)."""
    out = workdir / "aps-herd.json"
    db = workdir / "aps-herd.db"
    for p in (out, db):
        p.unlink(missing_ok=True)
    with open(workdir / "aps-herd.log", "ab") as log:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.baselines.aps",
                "herd",
                "--n",
                str(n),
                "--db",
                str(db),
                "--out",
                str(out),
                "--timeout",
                str(timeout),
            ],
            cwd=ROOT,
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout + 120 + n * 0.01,
        )
    if proc.returncode != 0 or not out.exists():
        raise BenchError(
            f"APScheduler herd failed (status {proc.returncode}); see {workdir / 'aps-herd.log'}"
        )
    data: dict[str, Any] = json.loads(out.read_text())
    return data


class Precision:
    """A job every second on an in-memory APScheduler 3, in this process."""

    def __init__(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.samples: list[tuple[float, float]] = []  # (scheduled second, lateness)
        self.sched = BackgroundScheduler(timezone=UTC)

    def _tick(self) -> None:
        now = time.time()
        second = math.floor(now)
        self.samples.append((float(second), now - second))

    def __enter__(self) -> Precision:
        self.sched.add_job(self._tick, "cron", second="*", misfire_grace_time=None)
        self.sched.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sched.running:
            self.sched.shutdown(wait=False)

    def lateness(self, start: float, end: float) -> list[float]:
        return [late for s, late in self.samples if start <= s < end]


def cli() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["herd"])
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--timeout", type=float, required=True)
    a = p.parse_args()
    # run the copy of this module that the jobs' textual reference resolves to, not __main__
    from bench.baselines import aps

    aps._herd_main(a.n, a.db, a.out, a.timeout)


if __name__ == "__main__":
    cli()
