"""Request bodies. Strict types (no silent coercion of "1" to 1). A field Schedo does not know
is refused (400 naming it: a typo such as ``max_retires`` must not silently give a job the
defaults); every field of the hosted API's own request shapes is known. Value rules live in
services/validation.py so that they give 400 with a message naming the field."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ...limits import REPORT_BATCH_MAX
from ..domain.cron import NEVER
from ..domain.text import text_problem, unicode_safe


def _clean(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise PydanticCustomError("invalid_text", problem)
    return value


def _clean_json(value: Any, where: str = "") -> Any:
    """Every key and string of a JSON value is valid text (PostgreSQL and SQLite store it)."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise PydanticCustomError("invalid_text", "{where}" + problem,
                                      {"where": f"{where}: " if where else ""})
    elif isinstance(value, dict):
        for k, v in value.items():
            _clean_json(k, where)
            _clean_json(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _clean_json(v, f"{where}.{i}" if where else str(i))
    return value


# Text a user gives (names, schedules, commands, URLs, addresses): a lone UTF-16 surrogate or
# a NUL is a 400 naming the field. Text a worker reports (output, error) is stored safely
# instead (each such character becomes U+FFFD): a result is never refused for its bytes.
Text = Annotated[str, AfterValidator(_clean)]
Reported = Annotated[str, AfterValidator(unicode_safe)]
Json = Annotated[dict[str, Any], AfterValidator(_clean_json)]


class _In(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class DefinitionIn(_In):
    name: Text
    schedule: Text
    blocking: bool | None = None
    metadata: Json | None = None
    timeout_seconds: int | None = None
    webhook_url: Text | None = None
    max_retries: int | None = None
    timezone: Text | None = None
    catch_up: Text | None = None
    command: Text | None = None
    # command jobs: {"host": NAME} or {"tags": [...], "mode": "any"} (domain/targets.py)
    target: Json | None = None
    # the response's ``timeout`` ("30s") is accepted as input too: a job read back and sent
    # again defines the same job
    timeout: Text | int | None = None
    # alert rules (issue 19, docs/semantics.md "Alerts"); absent: the default
    alert_after_failures: int | None = None
    max_duration_seconds: int | None = None
    success_within_seconds: int | None = None
    pause_after_failures: int | None = None
    # heartbeat jobs (issue 19): ``type: "heartbeat"`` and the ping window
    type: Text | None = None
    grace_seconds: int | None = None
    # alert routing: channel names of the environment (absent: all), reminders
    channels: list[Text] | None = Field(default=None, max_length=50)
    remind_every_seconds: int | None = None
    # scheduling controls (issue 20; docs/semantics.md)
    jitter_seconds: int | None = None
    paused_until: Text | None = None
    skip_next: int | None = None
    crons: list[Text] | None = Field(default=None, max_length=100)
    overlap: Text | None = None
    max_concurrency: int | None = None
    # chains (issue 21, docs/semantics.md "Chains"): {"jobs": [...], "on", "within_seconds"}
    # or a list of job names; null or absent: the job runs after no other job. Its items are
    # checked by domain/chains.parse_after (400 naming the field).
    after: Json | list[Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _chain_only(cls, data: Any) -> Any:
        """A job that runs only after others may leave out ``schedule`` (it is ``@never``)."""
        if isinstance(data, dict) and "schedule" not in data and data.get("after") is not None:
            return {**data, "schedule": NEVER}
        return data


class MuteIn(_In):
    # the hosted client declares the field optional: a mute without a value mutes
    muted: bool = True


class PauseIn(_In):
    # no body (the hosted client's pause) pauses until resumed; ``until`` pauses until then
    until: Text | None = None


class TriggerIn(_In):
    # the hosted client sends no body; ``payload`` (extension) reaches the handler
    payload: Json | None = None


class BackfillIn(_In):
    from_: Text = Field(alias="from")
    to: Text


class SkipIn(_In):
    count: int


class WebhookIn(_In):
    # absent or null clears the URL: the job stops being a push job (docs/api.md)
    webhook_url: Text | None = None


class CompleteIn(_In):
    success: bool
    output: Reported | None = None
    error: Reported | None = None
    start_server_time_utc: int | None = None
    complete_server_time_utc: int | None = None
    exit_code: int | None = None


class BatchItemIn(CompleteIn):
    id: int


class BatchCompleteIn(_In):
    results: list[BatchItemIn] = Field(max_length=REPORT_BATCH_MAX)


class EnvironmentIn(_In):
    name: Text


class ApiKeyIn(_In):
    environment_id: int
    name: Text
    # extension (issue 22): read, operator, editor, worker or full (the default)
    scope: Text | None = None


class ChannelIn(_In):
    """An alert channel (issue 19): ``email`` with ``addresses``, ``webhook`` or ``slack``
    with ``url``."""

    name: Text
    kind: Text
    addresses: list[Text] | None = Field(default=None, max_length=50)
    url: Text | None = None


class CancelIn(_In):
    reason: Text | None = None


class WatchIn(_In):
    ids: list[int]


class LogLineIn(_In):
    text: Reported
    stream: str = "log"
    at: int | None = None  # Unix ms; absent: when the server got it


class LogIn(_In):
    lines: list[LogLineIn]


# every field name some request body knows (for the "did you mean" of an unknown field)
KNOWN_FIELDS = sorted(
    {f for m in (DefinitionIn, MuteIn, WebhookIn, BatchItemIn, EnvironmentIn, ApiKeyIn,
              ChannelIn, CancelIn, WatchIn, LogLineIn, LogIn, PauseIn, SkipIn, TriggerIn)
     for f in m.model_fields}
)
