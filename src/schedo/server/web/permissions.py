"""The dashboard's actions (issue 22): every POST route of the dashboard names the action it
needs (domain/permissions.py), once, in this table; ``routing.checked_form`` checks it with
the CSRF token, so a page that forgets cannot skip it. A route missing here needs the admin
role (tests/api/test_people_web.py fails on it). Reading a page needs ``view`` (a worker key
cannot sign in)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.routing import compile_path

from ..domain.permissions import Action, allows

A = Action
JOB_ACTIONS: dict[str, Action] = {
    "trigger": A.OPERATE, "pause": A.OPERATE, "resume": A.OPERATE, "mute": A.OPERATE,
    "unmute": A.OPERATE, "webhook": A.EDIT, "delete": A.EDIT,
}
DASHBOARD: dict[str, Action | dict[str, Action]] = {
    "/ui/logout": A.NONE,
    "/ui/env": A.NONE,
    "/ui/jobs/{job_id}/{action}": JOB_ACTIONS,
    "/ui/jobs/{job_id}/runs/{exec_id}/cancel": A.OPERATE,
    "/ui/new": A.DEFINE,
    "/ui/jobs/{job_id}/edit": A.DEFINE,
    "/ui/settings/keys": A.ADMIN,
    "/ui/settings/keys/{key_id}/revoke": A.ADMIN,
    "/ui/settings/environments": A.ADMIN,
    "/ui/settings/environments/{env_id}/delete": A.ADMIN,
    "/ui/settings/emails": A.ADMIN,
    "/ui/settings/emails/remove": A.ADMIN,
    "/ui/settings/channels": A.EDIT,
    "/ui/settings/channels/{channel_id}/delete": A.EDIT,
    "/ui/settings/secrets/{env_id}/reveal": A.ADMIN,
    "/ui/settings/secrets/{env_id}/rotate": A.ADMIN,
    "/ui/settings/admin-key/rotate": A.ADMIN,
    "/ui/people/invite": A.ADMIN,
    "/ui/people/{user_id}/role": A.ADMIN,
    "/ui/people/{user_id}/remove": A.ADMIN,
    # one's own sessions: anyone signed in; another's: services/people checks admin
    "/ui/sessions/{session_id}/revoke": A.NONE,
}


def action_of(route_path: str, params: Mapping[str, object]) -> Action:
    """The action a POST to this route does (ADMIN when the table does not know it)."""
    entry = DASHBOARD.get(route_path, A.ADMIN)
    if isinstance(entry, dict):
        return entry.get(str(params.get("action", "")), A.ADMIN)
    return entry


def can_post(grant: str, route_path: str, action: str | None = None) -> bool:
    """May ``grant`` POST to this route of :data:`DASHBOARD` (``action``: the job action of
    ``/ui/jobs/{job_id}/{action}``)? What the pages ask before they offer a button or a form,
    read from the same table ``checked_form`` enforces, so the two cannot disagree."""
    if route_path not in DASHBOARD:
        raise KeyError(f"not a dashboard POST route: {route_path!r}")
    params = {} if action is None else {"action": action}
    return allows(grant, action_of(route_path, params))


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (compile_path(path)[0], path) for path in DASHBOARD
]


def route_of(url: str) -> tuple[str, dict[str, str]] | None:
    """The route of :data:`DASHBOARD` a concrete form action (``/ui/jobs/7/pause``) posts to,
    with its path parameters; None for a URL that is none of them. Routes without parameters
    win over patterns (``/ui/jobs/7/edit`` is the edit route, not a job action)."""
    path = url.split("?", 1)[0]
    if path in DASHBOARD:
        return path, {}
    for pattern, route in _PATTERNS:
        if "{action}" in route:
            continue
        found = pattern.match(path)
        if found:
            return route, found.groupdict()
    for pattern, route in _PATTERNS:
        found = pattern.match(path)
        if found:
            return route, found.groupdict()
    return None
