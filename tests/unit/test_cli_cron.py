"""``schedo cron next``, driven through Typer's CliRunner on the sub-app itself."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner, Result

from schedo.cli.cron_cmd import cron_app

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(cron_app, list(args))


def test_json_output_across_the_berlin_spring_forward() -> None:
    result = run(
        "next",
        "30 2 * * *",
        "--tz",
        "Europe/Berlin",
        "--from",
        "2026-03-27T12:00:00Z",
        "--count",
        "3",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "expression": "30 2 * * *",
        "timezone": "Europe/Berlin",
        "description": "At 02:30 every day (Europe/Berlin)",
        "next": [
            {"utc": "2026-03-28T01:30:00Z", "local": "2026-03-28T02:30:00+01:00"},
            {"utc": "2026-03-29T01:00:00Z", "local": "2026-03-29T03:00:00+02:00"},
            {"utc": "2026-03-30T00:30:00Z", "local": "2026-03-30T02:30:00+02:00"},
        ],
    }


def test_from_without_offset_is_read_in_the_zone() -> None:
    # 00:45 in New York on the fall-back day is 04:45Z; the repeated 01:xx hour shows twice
    result = run(
        "next",
        "*/30 * * * *",
        "--tz",
        "America/New_York",
        "--from",
        "2026-11-01T00:45",
        "--count",
        "4",
        "--json",
    )
    assert result.exit_code == 0, result.output
    got = [(n["utc"], n["local"]) for n in json.loads(result.stdout)["next"]]
    assert got == [
        ("2026-11-01T05:00:00Z", "2026-11-01T01:00:00-04:00"),
        ("2026-11-01T05:30:00Z", "2026-11-01T01:30:00-04:00"),
        ("2026-11-01T06:00:00Z", "2026-11-01T01:00:00-05:00"),
        ("2026-11-01T06:30:00Z", "2026-11-01T01:30:00-05:00"),
    ]


def test_default_count_is_five_and_utc_is_the_default_zone() -> None:
    result = runner.invoke(cron_app, ["next", "@hourly", "--from", "2026-01-01T00:10Z", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["timezone"] == "UTC"
    assert [n["utc"] for n in document["next"]] == [f"2026-01-01T0{h}:00:00Z" for h in range(1, 6)]
    assert document["next"][0]["local"] == "2026-01-01T01:00:00+00:00"


def test_table_output_shows_description_utc_and_local() -> None:
    result = run(
        "next",
        "0 9 * * *",
        "--tz",
        "Asia/Kathmandu",
        "--from",
        "2026-04-04T00:00:00Z",
        "--count",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert "At 09:00 every day (Asia/Kathmandu)" in result.stdout
    assert "2026-04-04T03:15:00Z" in result.stdout
    assert "2026-04-05 09:00:00" in result.stdout
    assert "+0545" in result.stdout


def test_now_is_the_default_start() -> None:
    result = runner.invoke(cron_app, ["next", "* * * * *", "--count", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["next"]) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["next", "0 24 * * *"], "error: schedule: hour field: 24 is out of range 0-23"),
        (["next", "0 0 * * *", "--tz", "Mars/Base"], "error: timezone: unknown time zone"),
        (["next", "0 0 * * *", "--from", "yesterday"], "error: --from: 'yesterday' is not"),
        (["next", "@every 0s"], "error: schedule: @every: '0s' is below the minimum of 1s"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(cron_app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip() == result.stderr.strip().splitlines()[0]
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.output


def test_a_schedule_that_runs_out_shows_the_instants_it_has_left() -> None:
    """An @at fires once: ``cron next`` shows it (it said "does not fire after" unless asked
    for exactly one); past its last instant the error stands."""
    one = run("next", "@at 2027-01-01T00:00:00Z", "--from", "2026-06-01T00:00:00Z", "--json")
    assert one.exit_code == 0, one.output
    assert [n["utc"] for n in json.loads(one.stdout)["next"]] == ["2027-01-01T00:00:00Z"]
    table = run("next", "@at 2027-01-01T00:00:00Z", "--from", "2026-06-01T00:00:00Z")
    assert table.exit_code == 0 and "2027-01-01" in table.stdout, table.output
    after = run("next", "@at 2027-01-01T00:00:00Z", "--from", "2027-02-01T00:00:00Z")
    assert after.exit_code == 2 and "does not fire after" in after.stderr


@pytest.mark.parametrize("count", ["0", "1001", "many"])
def test_count_out_of_range_is_a_usage_error(count: str) -> None:
    result = runner.invoke(cron_app, ["next", "* * * * *", "--count", count])
    assert result.exit_code == 2


def test_count_upper_bound_is_accepted() -> None:
    result = runner.invoke(
        cron_app, ["next", "* * * * *", "--from", "2026-01-01T00:00Z", "--count", "1000", "--json"]
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["next"][-1]["utc"] == "2026-01-01T16:40:00Z"


def test_module_imports_without_the_server_domain() -> None:
    """The CLI module must load on an SDK-only install: no cronsim import at module level."""
    code = (
        "import sys; sys.modules['cronsim'] = None; "
        "import schedo.cli.cron_cmd as m; "
        "assert 'schedo.server.domain.cron' not in sys.modules; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
