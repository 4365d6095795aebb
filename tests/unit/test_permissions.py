"""The permission table (domain/permissions.py), written out: who may do what."""

from __future__ import annotations

import pytest

from schedo.server.domain.permissions import (
    Action,
    Role,
    Scope,
    allows,
    refusal,
    role_of,
    scope_problem,
)

A = Action
# role -> the actions it may do, by hand
EXPECTED = {
    "viewer": {A.NONE, A.VIEW_JOBS, A.VIEW},
    "operator": {A.NONE, A.VIEW_JOBS, A.VIEW, A.OPERATE},
    "editor": {A.NONE, A.VIEW_JOBS, A.VIEW, A.OPERATE, A.DEFINE, A.EDIT},
    "admin": set(Action),
    "read": {A.NONE, A.VIEW_JOBS, A.VIEW},
    "full": set(Action),
    "worker": {A.NONE, A.VIEW_JOBS, A.DEFINE, A.PULL, A.REPORT, A.WRITE_LOG, A.WATCH_CANCEL},
}


@pytest.mark.parametrize("grant", sorted(EXPECTED))
def test_each_grant_allows_exactly_its_actions(grant: str) -> None:
    assert {a for a in Action if allows(grant, a)} == EXPECTED[grant]


def test_roles_are_ordered_and_scopes_map_to_roles() -> None:
    assert role_of("read") is Role.VIEWER and role_of("full") is Role.ADMIN
    assert role_of("worker") is None
    for lower, higher in zip(list(Role), list(Role)[1:], strict=False):
        assert EXPECTED[lower.value] < EXPECTED[higher.value]


def test_an_unknown_grant_is_an_error_not_a_permission() -> None:
    with pytest.raises(ValueError):
        allows("root", A.VIEW)


def test_messages_name_the_needed_permission() -> None:
    assert refusal("read", A.OPERATE) == (
        "permission denied: operate jobs needs the operator role or above; "
        "this caller has 'read'")
    assert "worker or full key" in refusal("read", A.PULL)
    assert scope_problem("full") is None and scope_problem("worker") is None
    assert scope_problem("admin") == "scope: must be one of " + ", ".join(Scope)
