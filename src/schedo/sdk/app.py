"""``Schedo``: the application object that collects job handlers and runs them as a worker.

```python
app = Schedo()

@app.job("nightly-report", "0 2 * * *", timezone="Europe/Berlin", timeout=300)
async def nightly_report(ctx): ...

app.run()          # or: schedo worker myapp:app
```

Definitions are checked where they are written, when decorated, by the server's rules
(name, schedule and time zone with the server's own cron module, timeout, retries, catch-up,
metadata): a bad one raises one ``DefinitionError`` that lists every bad field of it, so an
app with a bad definition fails at import and defines none of its jobs. The worker then asks
the server to define every job (create-or-update by name) before it pulls anything, in the
order the app defined them, a few at a time. Should the server still refuse one (a server
with other rules), no further definition is sent, the ones in flight are answered, and the
worker stops with the server's message naming that job; the jobs accepted before it stay
defined (each definition stands alone: the API has no transaction across several).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from ..limits import (
    JITTER_MAX,
    JSON_MAX_DEPTH,
    METADATA_MAX_BYTES,
    METADATA_MAX_KEYS,
    NAME_MAX,
    NAME_MIN,
    RETRIES_MAX,
    TIMEOUT_MAX,
)
from .calls import VIA_HEADER
from .definition import NEVER_SCHEDULE, JobDefinition, given_after, given_alerts
from .errors import DefinitionError
from .runner import is_async_callable, takes_context

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("schedo.worker")

CATCH_UP = ("none", "latest", "all")
# The server refuses a request body nested deeper than JSON_MAX_DEPTH levels; the
# definition's body is one of them.
METADATA_MAX_DEPTH = JSON_MAX_DEPTH - 1
NEVER = "0 0 1 1 *"  # a valid schedule, to check a time zone on its own


def _name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return f"name: must be a string, got {type(name).__name__}"
    if not NAME_MIN <= len(name) <= NAME_MAX:
        return f"name: {name!r} must be between {NAME_MIN} and {NAME_MAX} characters"
    if name != name.strip():
        return f"name: {name!r} must not start or end with white space"
    if "," in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"name: {name!r} must not contain commas or control characters"
    if any("\ud800" <= c <= "\udfff" for c in name):
        return f"name: {name!r} must be valid Unicode text (it holds a lone surrogate)"
    return None


def _cron_checker() -> Callable[[str, str], object] | None:
    """The server's own cron parser (``schedo.server.domain.cron``: pure, stdlib and
    cronsim, both in the base install), so that a schedule or time zone the server would
    refuse is refused here, before anything is sent. None if it cannot be imported (the
    server then has the last word)."""
    try:
        from ..server.domain import hashed
        from ..server.domain.cron import parse
    except ImportError:  # pragma: no cover - a partial install
        return None

    def check(expression: str, zone: str) -> object:
        # H fields resolve per job on the server; any seed shows whether they are well-formed
        return parse(hashed.resolve(expression, "check"), zone)

    return check


def _schedule_problems(schedule: object, timezone: object) -> list[str]:
    parse = _cron_checker()
    problems = []
    # each field on its own, so that a bad schedule and a bad zone are both reported
    for value, what, message, expression, zone in (
        (schedule, "schedule", "a non-empty cron expression", schedule, "UTC"),
        (timezone, "timezone", "an IANA zone name like Europe/Berlin", NEVER, timezone),
    ):
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{what}: must be {message}")
            continue
        if parse is None:
            continue
        try:
            parse(str(expression).strip(), str(zone))
        except ValueError as exc:  # CronError: its message starts with the field's name
            problems.append(str(exc))
    return problems


def _metadata_depth(value: Any) -> int:
    if isinstance(value, Mapping):
        return 1 + max((_metadata_depth(v) for v in value.values()), default=0)
    if isinstance(value, list | tuple):
        return 1 + max((_metadata_depth(v) for v in value), default=0)
    return 0


def _metadata_keys(value: Any) -> int:
    if isinstance(value, Mapping):
        return len(value) + sum(_metadata_keys(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(_metadata_keys(v) for v in value)
    return 0


def _metadata_problem(metadata: object) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        return f"metadata: must be a dict (a JSON object), got {type(metadata).__name__}"
    depth = _metadata_depth(metadata)
    if depth > METADATA_MAX_DEPTH:
        return f"metadata: nested {depth} levels deep, at most {METADATA_MAX_DEPTH}"
    try:
        text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        size = len(text.encode())
    except (TypeError, ValueError) as exc:  # also a lone surrogate (UnicodeEncodeError)
        return f"metadata: not JSON-serialisable ({exc})"
    keys = _metadata_keys(metadata)
    if keys > METADATA_MAX_KEYS:
        return f"metadata: {keys} keys in all, at most {METADATA_MAX_KEYS}"
    if size > METADATA_MAX_BYTES:
        return f"metadata: {size} bytes as JSON, at most {METADATA_MAX_BYTES}"
    return None


def definition_problems(
    handler: object,
    name: object,
    schedule: object,
    *,
    timezone: object = "UTC",
    timeout: object = 60,
    max_retries: object = 0,
    metadata: object = None,
    catch_up: object = "latest",
    jitter_seconds: object = 0,
) -> list[str]:
    """Every bad field of a job definition (empty if it is valid), each message starting
    with the field's name. The rules are the server's (SPEC 2; the schedule and time zone
    with its cron module), so a definition that passes is not refused for its fields."""
    problems: list[str] = []
    if (problem := _name_problem(name)) is not None:
        problems.append(problem)
    if not callable(handler):
        problems.append(f"handler: must be callable, got {type(handler).__name__}")
    problems += _schedule_problems(schedule, timezone)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or math.isnan(timeout)
        or not 0 < timeout <= TIMEOUT_MAX
    ):
        problems.append(f"timeout: must be between 0 and {TIMEOUT_MAX} seconds (24 h)")
    if (
        isinstance(max_retries, bool)
        or not isinstance(max_retries, int)
        or not 0 <= max_retries <= RETRIES_MAX
    ):
        problems.append(f"max_retries: must be between 0 and {RETRIES_MAX}")
    if not isinstance(catch_up, str) or catch_up not in CATCH_UP:
        problems.append(f"catch_up: must be one of {', '.join(CATCH_UP)}")
    if (
        isinstance(jitter_seconds, bool)
        or not isinstance(jitter_seconds, int)
        or not 0 <= jitter_seconds <= JITTER_MAX
    ):
        problems.append(f"jitter_seconds: must be between 0 and {JITTER_MAX} (1 h)")
    if (problem := _metadata_problem(metadata)) is not None:
        problems.append(problem)
    return problems


def make_definition(
    handler: Callable[..., Any],
    name: str,
    schedule: str,
    *,
    timezone: str,
    timeout: float,
    blocking: bool,
    max_retries: int,
    metadata: Mapping[str, Any] | None,
    catch_up: str,
    jitter_seconds: int = 0,
) -> JobDefinition:
    """The checked definition; raises one ``DefinitionError`` listing every bad field."""
    problems = definition_problems(
        handler, name, schedule, timezone=timezone, timeout=timeout,
        max_retries=max_retries, metadata=metadata, catch_up=catch_up,
        jitter_seconds=jitter_seconds,
    )  # fmt: skip
    if problems:
        raise DefinitionError(
            f"job {name!r}: " + "; ".join(problems),
            problems,
            name if isinstance(name, str) else None,
        )
    return JobDefinition(
        name=name,
        schedule=schedule.strip(),
        handler=handler,
        timezone=timezone,
        timeout=float(timeout),
        blocking=bool(blocking),
        max_retries=max_retries,
        metadata=dict(metadata or {}),
        catch_up=catch_up,
        jitter_seconds=jitter_seconds,
        is_async=is_async_callable(handler),
        takes_context=takes_context(handler),
    )


class Schedo:
    """A worker application: register handlers with ``@app.job(...)``, then ``app.run()``.

    ``api_key`` / ``base_url`` default to ``SCHEDO_API_KEY`` / ``SCHEDO_BASE_URL`` (read
    when the worker starts). ``concurrency`` bounds how many handlers run at once;
    ``shutdown_grace`` is how long SIGTERM/SIGINT waits for running handlers.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        concurrency: int = 10,
        environment_id: int | None = None,
        shutdown_grace: float = 30.0,
        poll_wait: float = 25.0,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise DefinitionError("concurrency: must be a positive integer")
        if shutdown_grace < 0:
            raise DefinitionError("shutdown_grace: must not be negative")
        self.api_key = api_key
        self.base_url = base_url
        self.concurrency = concurrency
        self.environment_id = environment_id
        self.shutdown_grace = float(shutdown_grace)
        self.poll_wait = float(poll_wait)
        self._jobs: dict[str, JobDefinition] = {}
        self._lock = threading.Lock()
        self._running: tuple[asyncio.AbstractEventLoop, Callable[[str], None]] | None = None

    @property
    def jobs(self) -> Mapping[str, JobDefinition]:
        """The registered jobs by name."""
        return dict(self._jobs)

    def job(
        self,
        name: str,
        schedule: str | None = None,
        *,
        timezone: str = "UTC",
        timeout: float = 60,
        blocking: bool = False,
        max_retries: int = 0,
        metadata: Mapping[str, Any] | None = None,
        catch_up: str = "latest",
        capture_logs: bool = False,
        jitter_seconds: int = 0,
        overlap: str | None = None,
        max_concurrency: int | None = None,
        alert_after_failures: int | None = None,
        max_duration_seconds: int | None = None,
        success_within_seconds: int | None = None,
        pause_after_failures: int | None = None,
        channels: Sequence[str] | None = None,
        remind_every_seconds: int | None = None,
        after: Sequence[str] | None = None,
        on: str = "success",
        within_seconds: int | None = None,
    ) -> Callable[[F], F]:
        """Register the decorated function (``def`` or ``async def``, taking ``ctx``) as
        the handler of job ``name``. ``timeout`` is in seconds and enforced locally.
        ``capture_logs``: forward the ``logging`` records the handler emits while it runs
        to the run's live output (``ctx.log(...)`` lines always go there). The alert
        options (``alert_after_failures`` … ``remind_every_seconds``) are sent when given.
        ``after``: the job also runs once its upstream jobs (names) ended as ``on`` says
        ("success", "failure", "completion") within ``within_seconds`` of each other;
        without a ``schedule`` it runs only then (docs/sdk.md "Chains").

        Raises ``DefinitionError`` (a ``ValueError``) listing every bad field at once,
        checked by the server's rules (the schedule and time zone too), before anything is
        sent to the server."""

        chain = given_after(name, after, on, within_seconds)  # raises DefinitionError

        def register(handler: F) -> F:
            definition = make_definition(
                handler,
                name,
                NEVER_SCHEDULE if schedule is None and chain else schedule,  # type: ignore[arg-type]
                timezone=timezone,
                timeout=timeout,
                blocking=blocking,
                max_retries=max_retries,
                metadata=metadata,
                catch_up=catch_up,
                jitter_seconds=jitter_seconds,
            )
            if capture_logs:
                definition = replace(definition, capture_logs=True)
            if overlap is not None or max_concurrency is not None:
                # checked by the server at definition (400 naming the field)
                definition = dataclasses.replace(definition, overlap=overlap,
                                                 max_concurrency=max_concurrency)
            definition = replace(definition, alerts=given_alerts(  # sent as given
                alert_after_failures=alert_after_failures, channels=channels,
                max_duration_seconds=max_duration_seconds, success_within_seconds=(
                    success_within_seconds), pause_after_failures=pause_after_failures,
                remind_every_seconds=remind_every_seconds), after=chain)
            with self._lock:
                if name in self._jobs:
                    raise DefinitionError(f"job {name!r} is defined twice in this app")
                self._jobs[name] = definition
            return handler

        return register

    # -- running ---------------------------------------------------------------------------
    def run(self, *, concurrency: int | None = None) -> int:
        """Define the jobs, then pull and run them until SIGTERM/SIGINT. Blocks; returns the
        exit status (0 after a clean shutdown). Raises ``BadRequest`` (a ``ValueError``) if
        the server refuses a definition, ``Unauthorized`` for a bad key."""
        from .runtime import default_logging

        default_logging()
        return asyncio.run(self.run_async(concurrency=concurrency, install_signal_handlers=True))

    async def run_async(
        self, *, concurrency: int | None = None, install_signal_handlers: bool = False
    ) -> int:
        """``run()`` inside a running event loop (for embedding): stop it with ``stop()``
        or by cancelling the task."""
        from .async_client import AsyncClient
        from .runtime import install_signal_handlers as install_signals
        from .worker import Worker

        if not self._jobs:
            raise DefinitionError("no jobs: decorate at least one handler with @app.job(...)")
        client = AsyncClient(
            self.api_key, self.base_url, environment_id=self.environment_id, timeout=30.0
        )
        client._http.headers[VIA_HEADER] = "worker"  # the server's audit log: "via worker"
        worker = Worker(
            self._jobs,
            client,
            concurrency=concurrency or self.concurrency,
            shutdown_grace=self.shutdown_grace,
            poll_wait=self.poll_wait,
        )
        loop = asyncio.get_running_loop()
        installed: list[int] = []
        if install_signal_handlers:
            installed = install_signals(loop, worker.request_stop)
        self._running = (loop, worker.request_stop)
        try:
            return await worker.run()
        finally:
            self._running = None
            for sig in installed:
                loop.remove_signal_handler(sig)
            await client.aclose()

    def stop(self) -> None:
        """Ask a running worker to shut down gracefully (safe from any thread)."""
        running = self._running
        if running is not None:
            loop, request_stop = running
            loop.call_soon_threadsafe(request_stop, "stop()")

