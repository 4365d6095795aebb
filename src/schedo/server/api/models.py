"""Request bodies. Strict types (no silent coercion of "1" to 1); unknown fields ignored so
clients of the hosted API that send extra fields keep working. Value rules live in
services/validation.py so that they give 400 with a message naming the field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


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


class MuteIn(_In):
    muted: bool


class WebhookIn(_In):
    webhook_url: str | None


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
