"""``python -m bench <scenario> [--size smoke|default|full] [--json out.json]``."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import SCENARIOS, run_scenario
from .common import BenchError


def _ints(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("scenario", choices=[*SCENARIOS, "all"])
    p.add_argument("--size", choices=["smoke", "default", "full"], default="default")
    p.add_argument("--json", type=Path, help="write the report here (one scenario)")
    p.add_argument(
        "--json-dir",
        type=Path,
        help="write <scenario>.json here (with 'all', or instead of --json)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        help="keep databases and logs here (default: a temporary folder, removed afterwards)",
    )
    p.add_argument(
        "--no-baselines", action="store_true", help="herd/precision: skip APScheduler and Celery"
    )
    p.add_argument("--n", type=int, help="herd: number of jobs")
    p.add_argument("--hashed", action="store_true", help="herd: `H * * * *` vs `0 * * * *`")
    p.add_argument("--timeout", type=float, help="herd: seconds allowed after the due second")
    p.add_argument("--duration", type=float, help="precision: seconds; api: seconds per route")
    p.add_argument("--defined", type=_ints, help="scale: defined jobs, e.g. 10000,100000")
    p.add_argument("--window", type=int, help="scale: seconds of sustained due rate")
    p.add_argument("--rate", type=int, help="scale: runs due per second")
    p.add_argument("--jobs", type=int, help="footprint: jobs in the large database")
    a = p.parse_args(argv)
    if a.json and a.scenario == "all":
        p.error("--json names one file: use --json-dir with 'all'")
    names = list(SCENARIOS) if a.scenario == "all" else [a.scenario]
    tmp = None if a.workdir else tempfile.mkdtemp(prefix="schedo-bench-")
    root = a.workdir or Path(str(tmp))
    failed = 0
    try:
        for name in names:
            opts: dict[str, Any] = {}
            if name in ("herd", "precision"):
                opts["baselines"] = not a.no_baselines
            if name == "herd":
                opts.update(n=a.n, timeout=a.timeout, hashed=a.hashed)
            elif name == "precision" and a.duration is not None:
                opts["duration"] = int(a.duration)
            elif name == "scale":
                opts.update(defined=a.defined, window=a.window, rate=a.rate)
            elif name == "api":
                opts["duration"] = a.duration
            elif name == "footprint":
                opts["jobs"] = a.jobs
            workdir = root / name
            workdir.mkdir(parents=True, exist_ok=True)
            try:
                report = run_scenario(name, a.size, workdir, **opts)
            except BenchError as exc:
                print(f"== {name} ({a.size}) FAILED: {exc}", file=sys.stderr, flush=True)
                failed += 1
                continue
            print(report.render() + "\n", flush=True)
            if a.json and len(names) == 1:
                report.write(a.json)
            if a.json_dir:
                report.write(a.json_dir / f"{name}.json")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
