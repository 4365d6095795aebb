"""The benchmarks still run: every scenario of bench/ at its smoke size, baselines included.

Nothing here is timed: ``bench.smoke()`` raises when a scenario fails to run or loses runs
(for instance a herd run that never completes); missed speed targets are only printed.
The figures that matter are produced by ``python -m bench ... --size default`` (bench/README.md).
"""

from __future__ import annotations

import shutil

import pytest

import bench


@pytest.mark.slow
def test_every_benchmark_runs_at_smoke_size(capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server (Debian package) is needed for the Celery baseline")
    bench.smoke(baselines=True)
    out = capsys.readouterr().out
    for scenario in ("herd", "precision", "scale", "api", "dashboard", "footprint",
                     "dashpages", "interleave", "pgdrivers"):
        assert f"== {scenario} (smoke" in out, out[-3000:]
    assert "APScheduler" in out and "Celery" in out
