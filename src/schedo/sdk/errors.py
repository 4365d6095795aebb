"""Exceptions raised by the SDK (stdlib only, so ``schedo.webhooks`` can use them cheaply).

``SchedoError`` is the root. ``ApiError`` is a non-2xx answer of the server and carries its
``status`` and ``message`` (the server's ``{"message": ...}``); one subclass per status of
SPEC section 2. ``ConnectionFailed`` means no answer at all (refused, reset, timed out).
"""

from __future__ import annotations


class SchedoError(Exception):
    """Base class of every error raised by the Schedo SDK."""


class ConnectionFailed(SchedoError):
    """The server could not be reached, or the connection broke before an answer."""


class ConfigurationError(SchedoError, ValueError):
    """The SDK is missing a setting (e.g. no API key given and ``SCHEDO_API_KEY`` unset)."""


class DefinitionError(SchedoError, ValueError):
    """A job definition refused before it reached the server (bad name, schedule, time zone,
    timeout, ...). ``problems`` lists every bad field of the definition, each starting with
    the field's name (``"timeout: must be ..."``); ``job`` is the job's name when known."""

    problems: list[str]
    job: str | None

    def __init__(
        self, message: str, problems: list[str] | None = None, job: str | None = None
    ) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems is not None else [message]
        self.job = job


class WebhookVerificationError(SchedoError):
    """A push request failed verification (signature, timestamp or body)."""


class ApiError(SchedoError):
    """A non-2xx answer of the server."""

    status: int
    message: str

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class BadRequest(ApiError, ValueError):
    """400: malformed or invalid input (e.g. a bad cron expression). Also a ValueError."""


class Unauthorized(ApiError):
    """401: missing, unknown or revoked API key."""


class Forbidden(ApiError):
    """403: the key lacks the right (e.g. an environment key on an org-only route)."""


class NotFound(ApiError, LookupError):
    """404: unknown id (or one that belongs to another environment)."""


class Conflict(ApiError):
    """409: state conflict, e.g. completing an execution that already ended differently."""


class PayloadTooLarge(ApiError):
    """413: request body too large."""


class Unprocessable(ApiError):
    """422: well-formed JSON of the wrong shape."""


class RateLimited(ApiError):
    """429: rate limited; ``retry_after`` is the server's ``Retry-After`` in seconds."""

    retry_after: float | None

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(status, message)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the server failed; retrying later may help."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: Unprocessable,
}


def error_for(status: int, message: str, retry_after: float | None = None) -> ApiError:
    """The ``ApiError`` subclass for an HTTP status."""
    if status == 429:
        return RateLimited(status, message, retry_after)
    if status >= 500:
        return ServerError(status, message)
    return _BY_STATUS.get(status, ApiError)(status, message)
