"""Schedo Python SDK: ``Schedo`` (workers), ``Client`` (management API), ``webhooks``.

Importing this package never imports the server's dependencies (only httpx is needed), and
the heavier parts (httpx, the worker runtime) load on first use, so ``import schedo`` and
``schedo.webhooks`` stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import webhooks
from .sdk.errors import (
    ApiError,
    BadRequest,
    ConfigurationError,
    Conflict,
    ConnectionFailed,
    DefinitionError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SchedoError,
    ServerError,
    Unauthorized,
    Unprocessable,
    WebhookVerificationError,
)

if TYPE_CHECKING:
    from .sdk.app import Schedo
    from .sdk.async_client import AsyncClient
    from .sdk.client import Client
    from .sdk.context import JobContext, RunCancelled
    from .sdk.models import (
        ApiKey,
        Environment,
        Execution,
        Job,
        JobDetail,
        JobWithConnections,
        LogLine,
        Org,
        RunLog,
    )

__version__ = "0.1.0"

_LAZY = {
    "Schedo": "app",
    "Client": "client",
    "AsyncClient": "async_client",
    "JobContext": "context",
    "RunCancelled": "context",
    "LogLine": "models",
    "RunLog": "models",
    "ApiKey": "models",
    "Environment": "models",
    "Execution": "models",
    "Job": "models",
    "JobDetail": "models",
    "JobWithConnections": "models",
    "Org": "models",
}

__all__ = [
    "ApiError",
    "ApiKey",
    "AsyncClient",
    "BadRequest",
    "Client",
    "ConfigurationError",
    "Conflict",
    "ConnectionFailed",
    "DefinitionError",
    "Environment",
    "Execution",
    "Forbidden",
    "Job",
    "JobContext",
    "JobDetail",
    "JobWithConnections",
    "LogLine",
    "NotFound",
    "Org",
    "PayloadTooLarge",
    "RateLimited",
    "RunCancelled",
    "RunLog",
    "Schedo",
    "SchedoError",
    "ServerError",
    "Unauthorized",
    "Unprocessable",
    "WebhookVerificationError",
    "__version__",
    "webhooks",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'schedo' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".sdk.{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
