"""Schedo's benchmarks: ``python -m bench <scenario> [--size smoke|default|full] [--json F]``.

Scenarios: herd, precision, scale, api, dashboard, footprint, dashpages, interleave,
pgdrivers (see bench/README.md).
``smoke()`` runs every scenario at its smoke size (seconds each) and raises if one fails; CI
calls it from a test.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .common import Report

SCENARIOS = ("herd", "precision", "scale", "api", "dashboard", "footprint", "dashpages",
             "interleave", "pgdrivers")


def run_scenario(name: str, size: str, workdir: Path, **options: object) -> Report:
    """Run one scenario; returns its ``common.Report``."""
    from . import (
        api,
        dashboard,
        dashpages,
        footprint,
        herd,
        interleave,
        pgdrivers,
        precision,
        scale,
    )

    module = {
        "herd": herd,
        "precision": precision,
        "scale": scale,
        "api": api,
        "dashboard": dashboard,
        "footprint": footprint,
        "dashpages": dashpages,
        "interleave": interleave,
        "pgdrivers": pgdrivers,
    }[name]
    started = time.perf_counter()
    report: Report = module.run(size, workdir, **options)
    report.seconds = time.perf_counter() - started
    return report


def smoke(baselines: bool = True) -> None:
    """Every scenario at smoke size. Raises ``common.BenchError`` (or the scenario's error) on
    the first failure. ``baselines=False`` skips APScheduler and Celery (they need the bench
    extra and, for Celery, a redis-server binary or ``BENCH_REDIS_URL``)."""
    with tempfile.TemporaryDirectory(prefix="schedo-bench-") as tmp:
        for name in SCENARIOS:
            workdir = Path(tmp) / name
            workdir.mkdir()
            opts: dict[str, object] = {}
            if name in ("herd", "precision"):
                opts["baselines"] = baselines
            report = run_scenario(name, "smoke", workdir, **opts)
            print(report.render(), flush=True)
