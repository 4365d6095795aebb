"""``schedo channels list|add|remove`` against a real server: table, ``--json``, removal
by id and by name, and the exit codes of bad input (2 usage, 1 refused, 3 not found)."""

from __future__ import annotations

import json
import uuid

import schedo
from tests.cli.conftest import Cli


def test_channels_add_list_remove(cli: Cli, client: schedo.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    mail, hook, chat = f"mail-{tag}", f"hook-{tag}", f"chat-{tag}"

    r = cli("channels", "add", mail, "--email", "a@example.com", "--email", "b@example.com")
    assert r.exit_code == 0, r.output
    assert f"Added email channel {mail} (id " in r.stdout
    r = cli("channels", "add", hook, "--webhook", "https://hooks.example.com/in", "--json")
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["kind"] == "webhook" and created["url"] == "https://hooks.example.com/in"
    assert created["addresses"] == []
    r = cli("channels", "add", chat, "--slack", "https://chat.example.com/hooks/x")
    assert r.exit_code == 0, r.output

    r = cli("channels", "list")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "KIND", "DESTINATION", "CREATED"]
    row = next(line for line in lines if f" {mail} " in line)
    assert "email" in row and "a@example.com, b@example.com" in row
    assert any(chat in line and "slack" in line and "chat.example.com" in line for line in lines)
    r = cli("channels", "list", "--json")
    listed = {c["name"]: c for c in json.loads(r.stdout)}
    assert listed[mail]["addresses"] == ["a@example.com", "b@example.com"]
    assert listed[hook] == created

    # bad input: nothing sent, or the server's 400/409 as exit 1
    for args in ((), ("--email", "a@example.com", "--slack", "https://e.example.com")):
        r = cli("channels", "add", f"x-{tag}", *args)
        assert r.exit_code == 2 and "exactly one of" in r.stderr, r.output
    r = cli("channels", "add", f"x-{tag}", "--email", "not-an-address")
    assert r.exit_code == 1 and "email" in r.stderr and "HTTP 400" in r.stderr, r.output
    r = cli("channels", "add", mail, "--slack", "https://e.example.com/x")
    assert r.exit_code == 1 and "HTTP 409" in r.stderr, r.output
    assert f"x-{tag}" not in {c["name"] for c in json.loads(cli("channels", "list",
                                                                "--json").stdout)}

    # remove by id and by name
    r = cli("channels", "remove", str(created["id"]), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["name"] == hook, r.output
    r = cli("channels", "remove", mail)
    assert r.exit_code == 0 and f"Removed channel {mail}" in r.stdout, r.output
    r = cli("channels", "remove", mail)
    assert r.exit_code == 3 and "no channel" in r.stderr, r.output
    names = {c["name"] for c in json.loads(cli("channels", "list", "--json").stdout)}
    assert mail not in names and hook not in names and chat in names
    assert cli("channels", "remove", chat).exit_code == 0
