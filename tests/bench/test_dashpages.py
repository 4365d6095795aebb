"""The dashpages bench runs at its smoke size against a real server and measures every page it
names (nothing here is timed: missed targets are only reported)."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench
from bench import dashpages


@pytest.mark.slow
def test_dashpages_measures_every_page_at_smoke_size(tmp_path: Path) -> None:
    report = bench.run_scenario("dashpages", "smoke", tmp_path)
    names = [name for name, _ in dashpages._pages(0)]
    assert [row[0].split(" (")[0] for row in report.rows] == names
    for name in names:
        got = report.results[name]
        assert got["n"] == dashpages.SIZES["smoke"]["requests"] and got["p50"] > 0
        assert got["bytes"] > 0 or name == "healthz"
    assert report.results["jobs"]["bytes"] > report.results["overview"]["bytes"]  # 50 rows
    assert {c.name.split(" (")[0] for c in report.checks} == set(dashpages.TARGETS)
    cost = report.results["index_cost_us_per_run"]
    assert cost["with"] > 0 and cost["without"] > 0
    assert report.seconds < 60
