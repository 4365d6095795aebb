"""Every route of the app with the prefix it is served under, through included routers
(FastAPI keeps them as ``_IncludedRouter`` entries with their include context)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def routes_of(routes: list[Any], prefix: str = "",
              schema_only: bool = False) -> Iterator[tuple[str, Any]]:
    """(prefix, route) of every route below ``routes``; ``schema_only``: not those of routers
    included with ``include_in_schema=False``."""
    for route in routes:
        context = getattr(route, "include_context", None)
        if context is None:
            yield prefix, route
        elif context.include_in_schema or not schema_only:
            yield from routes_of(route.original_router.routes, prefix + context.prefix,
                                 schema_only)
