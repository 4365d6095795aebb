"""``schedo secret show|rotate`` against a real server (issue 22): the new secret printed
once with the overlap's end, ``--json``, and bad input (a bad duration is a usage error that
sends nothing; a range the server refuses is exit 1; an environment key is refused)."""

from __future__ import annotations

import json
import uuid

import pytest

import schedo
from schedo.cli.support import CliError
from schedo.cli.webhook_secret_cmd import parse_overlap
from tests.cli.conftest import Cli


def _environment(client: schedo.Client) -> dict:
    r = client._http.post("/org/environments", json={"name": f"sec-{uuid.uuid4().hex[:8]}"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_show_and_rotate(cli: Cli, client: schedo.Client) -> None:
    env = _environment(client)
    old = env["webhook_signature_key"]
    r = cli("secret", "show", "--env", str(env["id"]))
    assert r.exit_code == 0, r.output
    assert old in r.stdout and env["name"] in r.stdout
    r = cli("secret", "rotate", "--env", str(env["id"]), "--overlap", "2h", "--json")
    assert r.exit_code == 0, r.output
    state = json.loads(r.stdout)
    new = state["webhook_signature_key"]
    assert new != old and state["environment_id"] == env["id"]
    assert state["previous_valid_until"].endswith("Z")
    r = cli("secret", "show", "--env", str(env["id"]))
    assert new in r.stdout and "still signs until" in r.stdout and old not in r.stdout
    r = cli("secret", "rotate", "--env", str(env["id"]), "--overlap", "0")
    assert r.exit_code == 0 and "no longer signs" in r.stdout, r.output


def test_bad_input(cli: Cli, client: schedo.Client) -> None:
    env = _environment(client)
    for bad in ("soon", "-1h", "1.5h", "24 hours", ""):
        r = cli("secret", "rotate", "--env", str(env["id"]), "--overlap", bad)
        assert r.exit_code == 2 and "--overlap" in r.stderr, (bad, r.output)
    r = cli("secret", "rotate", "--env", str(env["id"]), "--overlap", "8d")
    assert r.exit_code == 1 and "HTTP 400" in r.stderr and "overlap_seconds" in r.stderr
    r = cli("secret", "rotate", "--env", "999999")
    assert r.exit_code == 3, r.output  # not found
    k = client._http.post("/apikeys", json={"environment_id": env["id"], "name": "e"}).json()
    r = cli("secret", "rotate", "--env", str(env["id"]), key=k["key"])
    assert r.exit_code == 4 and "HTTP 403" in r.stderr, r.output  # refused key
    after = [e for e in client._http.get("/org/environments").json() if e["id"] == env["id"]]
    assert after[0]["webhook_signature_key"] == env["webhook_signature_key"]  # nothing changed


@pytest.mark.parametrize(("text", "seconds"), [("0", 0), ("90", 90), ("90s", 90),
                                               ("30m", 1800), ("24H", 86400), ("7d", 604800)])
def test_parse_overlap(text: str, seconds: int) -> None:
    assert parse_overlap(text) == seconds


def test_parse_overlap_refuses() -> None:
    with pytest.raises(CliError):
        parse_overlap("1w")


@pytest.mark.parametrize("text", ["\u0663", "\uff13h", "\u0663\u0660s", "1\u00b2", "24h\x00"])
def test_parse_overlap_refuses_digits_of_other_scripts(text: str) -> None:
    """``\\d`` matches Arabic-Indic or full-width digits, which int() then reads: "٣" was
    taken as 3 seconds and rotated the secret with an overlap nobody typed."""
    with pytest.raises(CliError) as caught:
        parse_overlap(text)
    assert caught.value.code == 2


def test_a_rotation_during_an_overlap_says_the_oldest_secret_stopped(
    cli: Cli, client: schedo.Client
) -> None:
    """Rotating twice (a script run again, a second person) drops the secret from before the
    first rotation at once, whatever the overlap: the second run said only that "the
    previous secret still signs", so nobody learnt that receivers on the oldest one broke."""
    env = _environment(client)
    r = cli("secret", "rotate", "--env", str(env["id"]), "--overlap", "1h")
    assert r.exit_code == 0 and "stopped" not in r.stderr, r.output
    r = cli("secret", "rotate", "--env", str(env["id"]), "--overlap", "1h")
    assert r.exit_code == 0, r.output
    assert "a rotation was under way" in r.stderr and "stopped signing now" in r.stderr
    r = cli("secret", "rotate", "--env", str(env["id"]), "--overlap", "0", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["previous_valid_until"] is None
    assert "stopped signing now" in r.stderr  # stdout stays the JSON alone
