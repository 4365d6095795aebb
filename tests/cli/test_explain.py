"""``schedo explain JOB --at ...`` against a real server."""

from __future__ import annotations

import json

import schedo
from tests.cli.conftest import Cli


def test_explain_text_json_and_errors(cli: Cli, client: schedo.Client, name: str) -> None:
    client.define_job(name, "30 2 * * *", timezone="Europe/Berlin", command="echo hi")
    r = cli("explain", name, "--at", "2030-10-27T00:30:00Z")
    assert r.exit_code == 0, r.output
    assert "schedule fires: yes" in r.stdout and "will_run" in r.stdout
    r = cli("explain", name, "--at", "2030-10-27T01:30:00Z", "--json")
    got = json.loads(r.stdout)
    assert got["fires"] is False and "first pass" in got["dst_note"]
    assert got["next_fire"] == "2030-10-28T01:30:00Z"
    r = cli("explain", name, "--at", "soon")
    assert r.exit_code == 1 and "at:" in r.stderr
    r = cli("explain", "no-such-job-here")
    assert r.exit_code == 3
