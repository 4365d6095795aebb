"""Command job targets (domain/targets.py): definitions, what an agent may take, the words of
an expiry."""

from __future__ import annotations

import pytest

from schedo.server.domain import targets
from schedo.server.domain.errors import InvalidInput


def test_targets_are_checked_and_made_canonical() -> None:
    assert targets.target(None) is None
    assert targets.target({"host": " db1.example "}) == {"host": "db1.example"}
    assert targets.target({"tags": ["EU", "db", "eu"]}) == {"tags": ["db", "eu"], "mode": "any"}
    assert targets.target({"tags": ["db"], "mode": "all"}) == {"tags": ["db"], "mode": "all"}
    bad = [
        ([], "an object"), ({"host": "a", "tags": ["x"]}, "not both"),
        ({"tags": []}, "non-empty"), ({"tags": ["no spaces"]}, "target.tags"),
        ({"tags": ["-x"]}, "target.tags"), ({"tags": [3]}, "target.tags"),
        ({"mode": "all"}, "target.tags: a non-empty"),  # mode all names its tags
        ({"tags": [], "mode": "all"}, "target.tags: a non-empty"),
        ({"host": "a", "mode": "all"}, "not both"),
        ({"tags": ["x"], "mode": "some"}, "mode"),
        ({"host": ""}, "target.host"), ({"host": "a b"}, "target.host"), ({"zone": 1}, "zone"),
        ({"tags": [f"t{i}" for i in range(11)]}, "at most 10"),
    ]
    for value, words in bad:
        with pytest.raises(InvalidInput, match=words):
            targets.target(value)


def test_run_columns_and_the_agents_subsets_meet_by_equality() -> None:
    assert targets.run_columns(None) == (None, None)
    assert targets.run_columns({"host": "db1"}) == ("db1", None)
    _, key = targets.run_columns({"tags": ["eu", "db"], "mode": "any"})
    assert key == "db,eu"
    agent = targets.agent_match("db1", ["eu", "db", "gpu"])
    assert agent.host == "db1" and key in agent.tag_keys
    assert "db,eu,gpu" in agent.tag_keys and len(agent.tag_keys) == 7
    assert key not in targets.agent_match(None, ["db"]).tag_keys
    with pytest.raises(InvalidInput, match="x-schedo-agent-tags"):
        targets.agent_match(None, ["Bad tag"])
    with pytest.raises(InvalidInput, match="x-schedo-agent-host"):
        targets.agent_match("a b", [])


def test_an_expiry_names_the_missing_agent() -> None:
    assert targets.describe(None, None) is None
    assert targets.describe("db1", None) == "no agent on host db1 connected?"
    assert targets.describe(None, "db,eu") == "no agent with tags db, eu connected?"
