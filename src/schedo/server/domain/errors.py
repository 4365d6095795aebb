"""Errors raised below the API; the API maps each to one HTTP status (api/errors.py)."""

from __future__ import annotations


class SchedoError(Exception):
    """Base class; ``str(e)`` is a message fit for the user."""


class InvalidInput(SchedoError):
    """400: malformed or invalid input (the message names the field)."""


class Unauthorized(SchedoError):
    """401: missing, unknown or revoked key."""


class Forbidden(SchedoError):
    """403: the key lacks the right."""


class NotFound(SchedoError):
    """404: unknown id, or an id of another organisation or environment."""


class Conflict(SchedoError):
    """409: state conflict (e.g. completing an execution that already ended differently)."""
