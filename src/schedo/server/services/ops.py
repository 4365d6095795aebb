"""Operational use cases: is the database reachable and does it take writes (``/readyz``)."""

from __future__ import annotations

from ..domain.errors import Unavailable
from .context import Services


async def not_ready(svc: Services) -> str | None:
    """Why the server cannot serve now ("database: OperationalError", "database not writable:
    SQLITE_FULL: …"), or None when it can."""
    try:
        await svc.store.ping()
    except Unavailable as exc:
        return f"database: {exc.error}"
    except Exception as exc:  # any other error of the driver (a refused connect) too
        return f"database: {type(exc).__name__}"
    failure = await svc.store.write_failure()
    if failure is not None:
        return f"database not writable: {failure}"
    return None
