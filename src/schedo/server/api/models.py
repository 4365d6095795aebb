"""Request bodies. Strict types (no silent coercion of "1" to 1). A field Schedo does not know
is refused (400 naming it: a typo such as ``max_retires`` must not silently give a job the
defaults); every field of the hosted API's own request shapes is known. Value rules live in
services/validation.py so that they give 400 with a message naming the field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class DefinitionIn(_In):
    name: str
    schedule: str
    blocking: bool | None = None
    metadata: dict[str, Any] | None = None
    timeout_seconds: int | None = None
    webhook_url: str | None = None
    max_retries: int | None = None
    timezone: str | None = None
    catch_up: str | None = None
    command: str | None = None
    # the response's ``timeout`` ("30s") is accepted as input too: a job read back and sent
    # again defines the same job
    timeout: str | int | None = None


class MuteIn(_In):
    # the hosted client declares the field optional: a mute without a value mutes
    muted: bool = True


class WebhookIn(_In):
    # absent or null clears the URL: the job stops being a push job (docs/api.md)
    webhook_url: str | None = None


class CompleteIn(_In):
    success: bool
    output: str | None = None
    error: str | None = None
    start_server_time_utc: int | None = None
    complete_server_time_utc: int | None = None
    exit_code: int | None = None


class BatchItemIn(CompleteIn):
    id: int


class BatchCompleteIn(_In):
    results: list[BatchItemIn] = Field(max_length=1000)


class EnvironmentIn(_In):
    name: str


class ApiKeyIn(_In):
    environment_id: int
    name: str


# every field name some request body knows (for the "did you mean" of an unknown field)
KNOWN_FIELDS = sorted(
    {f for m in (DefinitionIn, MuteIn, WebhookIn, BatchItemIn, EnvironmentIn, ApiKeyIn)
     for f in m.model_fields}
)
