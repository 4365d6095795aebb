"""Who may do what (issue 22): roles, API key scopes, actions, and one pure check.

A *grant* is what a caller holds in the environment it acts in: a user's role there
(``viewer`` < ``operator`` < ``editor`` < ``admin``) or an API key's scope. Key scopes:

- ``full`` (the default; every key created before scopes existed): the ``admin`` role of its
  environment, exactly today's behaviour. Organisation-wide actions (environments, the
  organisation's emails) still need an admin (organisation) key on top.
- ``read``: the ``viewer`` role (sees, changes nothing).
- ``operator``, ``editor``: those roles, for scripts that need no more.
- ``worker``: what ``schedo worker`` and ``schedo agent`` do, nothing else: define their jobs
  at start, read the job list (the agent looks its jobs up), pull and claim runs, report
  results, send live output, watch for cancelled runs. A worker key does not see run
  history, the audit log, keys or settings, and cannot trigger, pause, cancel or delete.

Every API route and dashboard action names one :class:`Action`; :data:`LEAST_ROLE` says the
least role that may do it, :data:`WORKER_ACTIONS` what a worker key may do.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    EDITOR = "editor"
    ADMIN = "admin"


class Scope(StrEnum):
    FULL = "full"
    READ = "read"
    OPERATOR = "operator"
    EDITOR = "editor"
    WORKER = "worker"


class Action(StrEnum):
    VIEW_JOBS = "view jobs"  # the job list, a job, its explanation and chain
    VIEW = "view"  # runs, live output, audit log, notifications, channels, keys, settings
    DEFINE = "define jobs"  # create or redefine a job from its definition (SDK, forms)
    PULL = "pull runs"  # long poll, server-sent events: claim runs
    REPORT = "report runs"  # complete runs
    WRITE_LOG = "write live output"
    WATCH_CANCEL = "watch for cancelled runs"
    OPERATE = "operate jobs"  # trigger, pause, resume, mute, skip, cancel, rerun, backfill
    EDIT = "edit jobs"  # webhook URL, delete jobs, alert channels
    ADMIN = "administer"  # keys, environments, the organisation's emails, people
    NONE = "none"  # signing out, switching environment: needs only a valid sign-in


ROLE_ORDER: tuple[Role, ...] = (Role.VIEWER, Role.OPERATOR, Role.EDITOR, Role.ADMIN)

LEAST_ROLE: dict[Action, Role] = {
    Action.NONE: Role.VIEWER,
    Action.VIEW_JOBS: Role.VIEWER,
    Action.VIEW: Role.VIEWER,
    Action.OPERATE: Role.OPERATOR,
    Action.DEFINE: Role.EDITOR,
    Action.EDIT: Role.EDITOR,
    # a worker's protocol: among roles only admin (a full key), never a person's everyday role
    Action.PULL: Role.ADMIN,
    Action.REPORT: Role.ADMIN,
    Action.WRITE_LOG: Role.ADMIN,
    Action.WATCH_CANCEL: Role.ADMIN,
    Action.ADMIN: Role.ADMIN,
}

WORKER_ACTIONS: frozenset[Action] = frozenset({
    Action.NONE, Action.VIEW_JOBS, Action.DEFINE, Action.PULL, Action.REPORT,
    Action.WRITE_LOG, Action.WATCH_CANCEL,
})

SCOPE_ROLE: dict[Scope, Role] = {
    Scope.FULL: Role.ADMIN,
    Scope.READ: Role.VIEWER,
    Scope.OPERATOR: Role.OPERATOR,
    Scope.EDITOR: Role.EDITOR,
}

GRANTS: frozenset[str] = frozenset({*Role, *Scope})


def role_of(grant: str) -> Role | None:
    """The role a grant acts as (None for ``worker``, which is no role)."""
    if grant in Role.__members__.values():
        return Role(grant)
    if grant in Scope.__members__.values():
        return SCOPE_ROLE.get(Scope(grant))
    raise ValueError(f"unknown grant {grant!r}")


def allows(grant: str, action: Action) -> bool:
    """May a caller holding ``grant`` (a role or a key scope) do ``action``?"""
    if grant == Scope.WORKER:
        return action in WORKER_ACTIONS
    role = role_of(grant)
    assert role is not None
    return ROLE_ORDER.index(role) >= ROLE_ORDER.index(LEAST_ROLE[action])


def needed(action: Action) -> str:
    """Who may do ``action``, in words (for a 403 message)."""
    least = LEAST_ROLE[action]
    who = f"the {least.value} role or above" if least is not Role.ADMIN else "the admin role"
    if action in WORKER_ACTIONS and action not in (Action.NONE, Action.VIEW_JOBS, Action.DEFINE):
        return f"a worker or full key ({who})"
    return who


def refusal(grant: str, action: Action) -> str:
    """The message of a 403: what was refused and what it needs."""
    return f"permission denied: {action.value} needs {needed(action)}; this caller has {grant!r}"


def scope_problem(scope: str) -> str | None:
    """Why ``scope`` is not a key scope, or None."""
    if scope in Scope.__members__.values():
        return None
    return "scope: must be one of " + ", ".join(s.value for s in Scope)
