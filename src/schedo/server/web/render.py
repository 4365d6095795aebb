"""Templates: the Jinja2 environment, display filters and HTML responses with safe headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse

from ..domain.model import JobStatus, RunStatus
from ..domain.permissions import LEAST_ROLE, Action, Role
from ..domain.timefmt import format_duration
from .permissions import DASHBOARD, can_post

if TYPE_CHECKING:
    from jinja2 import Environment
    from jinja2.runtime import Context

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_VERSION = "3"  # bump when a static file changes (cache busting)

# No inline scripts or styles anywhere: the policy below forbids them, which makes injected
# markup inert even if escaping ever failed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# status -> (icon, word, css class): every status shows a word and an icon, never colour alone
STATUS: dict[str, tuple[str, str, str]] = {
    "completed": ("✓", "Succeeded", "ok"),
    "failed": ("✗", "Failed", "bad"),
    "expired": ("◴", "Expired", "bad"),
    "running": ("▶", "Running", "run"),
    "pending": ("…", "Pending", "wait"),
    "skipped": ("↷", "Skipped", "muted"),
    "cancelled": ("⊘", "Cancelled", "muted"),
}


def utc_text(dt: datetime | None) -> str:
    if dt is None:
        return "—"
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clock_text(dt: datetime | None) -> str:
    """``14:03:27`` (UTC), for a time within the next minutes."""
    return "—" if dt is None else dt.astimezone(UTC).strftime("%H:%M:%S")


def local_text(dt: datetime | None, tz: str) -> str:
    if dt is None:
        return "—"
    try:
        zone = ZoneInfo(tz)
    except Exception:  # an unknown zone never reaches storage; be safe anyway
        return utc_text(dt)
    return dt.astimezone(zone).strftime("%a %Y-%m-%d %H:%M:%S %Z")


UTC_NAMES = ("UTC", "Etc/UTC")


def both_text(dt: datetime | None, tz: str) -> str:
    """UTC, and beside it the same instant in the job's zone (when that is not UTC)."""
    if dt is None or tz in UTC_NAMES:
        return utc_text(dt)
    return f"{utc_text(dt)} ({local_text(dt, tz)})"


def iso(dt: datetime | None) -> str:
    return "" if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def relative(dt: datetime | None, now: datetime) -> str:
    """``in 3 min`` / ``5 s ago``."""
    if dt is None:
        return "—"
    delta = (dt - now).total_seconds()
    future, secs = delta > 0, abs(delta)
    if secs < 1:
        return "now"
    if secs < 60:
        text = f"{int(secs)} s"
    elif secs < 3600:
        text = f"{int(secs // 60)} min"
    elif secs < 86400:
        text = f"{int(secs // 3600)} h {int(secs % 3600 // 60)} min"
    else:
        text = f"{int(secs // 86400)} d {int(secs % 86400 // 3600)} h"
    return f"in {text}" if future else f"{text} ago"


def duration_ms(ms: int | float | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{int(ms)} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, rest = divmod(int(ms // 1000), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def seconds_text(seconds: int) -> str:
    """``30s``, ``5m``, ``1h30m`` (the API's own timeout notation)."""
    return format_duration(seconds)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def status_of(value: RunStatus | JobStatus | str) -> tuple[str, str, str]:
    key = value.value if isinstance(value, RunStatus | JobStatus) else str(value)
    return STATUS.get(key, ("•", key.capitalize(), "muted"))


def grant_in(ctx: Context | dict[str, Any]) -> str | None:
    """The grant of the page's viewer: ``grant`` (fragments), else the principal ``p``."""
    grant = ctx.get("grant")
    if isinstance(grant, str):
        return grant
    p = ctx.get("p")
    return getattr(p, "grant", None)


def can(ctx: Context, route_path: str, action: str | None = None) -> bool:
    """``{% if can("/ui/jobs/{job_id}/{action}", "pause") %}``: may the person looking at
    this page POST there (web/permissions.py)? False on a page without a signed-in viewer."""
    grant = grant_in(ctx)
    return grant is not None and can_post(grant, route_path, action)


def role_words(grant: str) -> str:
    """``the viewer role`` / ``a read key``: what the page's viewer holds, in words."""
    if grant in Role.__members__.values():
        return f"the {grant} role"
    return f"a key with the {grant} scope"


def needs_role(route_path: str, action: str | None = None) -> str:
    """The least role a POST route needs (``operator``), for the line shown instead of it."""
    entry = DASHBOARD[route_path]
    act = entry.get(action or "", Action.ADMIN) if isinstance(entry, dict) else entry
    return LEAST_ROLE[act].value


@cache
def templates() -> Environment:
    """The dashboard's Jinja2 environment, made at the first page: a server whose dashboard
    is not used never loads Jinja2 (issue 18, idle RSS; templates compile at first use)."""
    from jinja2 import (
        Environment,
        FileSystemLoader,
        StrictUndefined,
        pass_context,
        select_autoescape,
    )

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        utc=utc_text,
        hms=clock_text,
        local=local_text,
        both=both_text,
        iso=iso,
        ms=duration_ms,
        secs=seconds_text,
        pretty_json=pretty_json,
    )
    # ``can`` reads the page's context (jinja2's pass_context, applied here: Jinja2 is
    # imported at the first page, not at start)
    env.globals.update(status_of=status_of, static_version=STATIC_VERSION, relative=relative,
                       can=pass_context(can), role_words=role_words, needs_role=needs_role)
    return env


def html(
    name: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    body = templates().get_template(name).render(**context)
    return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
