"""``schedo agent``: run ``command`` jobs on this machine.

The agent is the SDK's worker runtime (``schedo.sdk.runtime.Runtime``, the one behind
``schedo worker``) with the command executor (``agent_exec.CommandExecutor``: ``/bin/sh -c``,
process groups, output capture, exit codes). What differs from a worker are parameters:

- it long-polls ``GET /jobs/executions?type=command``, with ``&jobs=a,b`` for ``--jobs`` and
  without for every command job of the environment; every returned run is already claimed
  for this agent; its worker id is ``agent-<host>-<pid>``;
- before the first pull it checks ``--jobs`` (``GET /jobs``, retried while the server cannot
  answer): a name that is not a command job of the environment (unknown, or an sdk or push
  job, which the agent would never be handed) is a usage error, one line naming each such
  name, exit 2;
- a refused pull ends it: 401/403 exit 4, another 4xx exit 1 (400, a list the server
  refused: exit 2);
- at the shutdown (SIGTERM or SIGINT: stop pulling, wait up to ``--grace`` (30 s) for running
  commands, report them, exit 0; commands still running when the grace ends, or at once on a
  second signal, are terminated like a timeout and reported failed, "interrupted: the agent
  shut down") the reports get ``REPORT_GRACE`` (5 s) more; a result that still could not be
  reported is logged and the agent exits 1;
- its log lines are its own (``AgentVoice``, on the ``schedo.agent`` logger).

Pulling, the backoff (an unreachable server, 5xx or 429: 0.5 s doubling, capped at 5 s,
jittered; one log line per failure and one when it answers again), reporting (retried until
the server answers; 404/409 logged and dropped) and the shutdown are the runtime's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import sys
from collections.abc import Sequence

from ..limits import TAGS_MAX
from ..sdk.async_client import AsyncClient
from ..sdk.backoff import reconnect_backoff, retry_delay
from ..sdk.errors import (
    ApiError,
    BadRequest,
    ConfigurationError,
    ConnectionFailed,
    Forbidden,
    RateLimited,
    SchedoError,
    ServerError,
    Unauthorized,
)
from ..sdk.models import Job
from ..sdk.runtime import PullScope, Runtime, install_signal_handlers
from ..sdk.voice import Voice
from .agent_exec import KILL_GRACE, CommandExecutor
from .exit_codes import EXIT_API, EXIT_AUTH, EXIT_USAGE
from .plain import CliError, describe_error

log = logging.getLogger("schedo.agent")
TAG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")  # as the server's domain/targets.TAG

SHUTDOWN_GRACE = 30.0
REPORT_GRACE = 5.0
POLL_WAIT = 25.0


def format_seconds(seconds: float) -> str:
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{seconds:.1f}s"


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionFailed | ServerError | RateLimited)


def refused(exc: BaseException) -> bool:
    """The pull refusals that end the agent: every 4xx but 429 (see ``exit_code_for``)."""
    return isinstance(exc, ApiError) and not _unavailable(exc)


def exit_code_for(refusal: BaseException) -> int:
    if isinstance(refusal, Unauthorized | Forbidden):
        return EXIT_AUTH
    return EXIT_USAGE if isinstance(refusal, BadRequest) else EXIT_API


class AgentVoice(Voice):
    """The agent's log lines (the runtime's events, worded for commands)."""

    def serving(self, worker_id: str, concurrency: int, base_url: str) -> None:
        self.log.info(
            "agent %s pulling command runs of %s from %s (concurrency %d)",
            worker_id, self.serves, base_url, concurrency,
        )  # fmt: skip

    def pull_failed(self, exc: BaseException, delay: float) -> None:
        if _unavailable(exc):
            self.log.warning("cannot pull runs: %s; retrying in %.1fs", describe_error(exc), delay)
        else:
            self.log.warning("bad pull answer: %s; retrying in %.1fs", exc, delay)

    def pull_refused(self, exc: BaseException) -> None:
        if isinstance(exc, Unauthorized | Forbidden):
            self.log.error("the server refused the key: %s", describe_error(exc))
        else:
            self.log.error("the server refused the pull: %s", describe_error(exc))

    def reconnected(self, base_url: str, failures: int) -> None:
        self.log.info("the server answers again")

    def stopping(self, reason: str, grace: float, running: int) -> None:
        self.log.info(
            "%s: no new runs; waiting up to %s for %d running command(s)",
            reason, format_seconds(grace), running,
        )  # fmt: skip

    def hurrying(self, reason: str) -> None:
        self.log.info("%s again: ending running commands now", reason)

    def hurried_again(self, reason: str) -> None:
        self.hurrying(reason)

    def giving_up(self, running: int) -> None:
        self.log.info("grace over: ending %d running command(s)", running)

    def lost(self, execution_ids: Sequence[int]) -> None:
        self.log.error(
            "%d result(s) could not be reported (runs %s)",
            len(execution_ids), ", ".join(map(str, execution_ids)),
        )  # fmt: skip

    def stopped(self) -> None:
        self.log.info("agent stopped")

    def report_failed(self, execution_id: int, exc: BaseException, delay: float) -> None:
        self.log.warning(
            "run %d: cannot report (%s); retrying in %.1fs",
            execution_id, describe_error(exc), delay,
        )  # fmt: skip

    def report_refused(self, execution_id: int, exc: BaseException) -> None:
        self.log.warning("run %d: report dropped: %s", execution_id, describe_error(exc))

    def report_simplified(self, execution_id: int, exc: BaseException) -> None:
        self.log.error(
            "run %d: the report could not be sent as it is (%s); sending it again with its "
            "text simplified",
            execution_id, describe_error(exc),
        )  # fmt: skip

    def report_dropped(self, execution_id: int, exc: BaseException) -> None:
        self.log.error(
            "run %d: the server refused the report: %s; dropped", execution_id, describe_error(exc)
        )

    def report_delivered(self, execution_id: int, retries: int) -> None:
        self.log.info("run %d reported", execution_id)


def _problems(names: Sequence[str], jobs: Sequence[Job]) -> list[str]:
    """Why each name of ``--jobs`` is not a command job of the environment."""
    types = {j.name: j.type for j in jobs}
    problems = []
    for name in names:
        kind = types.get(name)
        if kind is None:
            problems.append(f"{name!r}: no such job in this environment")
        elif kind != "command":
            article = "an" if kind in ("sdk", "api") else "a"  # "an sdk job"
            problems.append(f"{name!r} is {article} {kind} job, not a command job")
    return problems


class Agent(Runtime):
    """Pulls command runs and runs up to ``concurrency`` of them at once (see the module
    docstring for the whole contract). ``run()`` returns the exit status."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        jobs: list[str] | None = None,
        concurrency: int = 4,
        grace: float = SHUTDOWN_GRACE,
        wait: float = POLL_WAIT,
        kill_grace: float = KILL_GRACE,
        host: str | None = None,
        tags: tuple[str, ...] = (),
    ) -> None:
        self.jobs = jobs
        self.host = host or socket.gethostname()
        super().__init__(
            client,
            CommandExecutor(client, kill_grace=kill_grace),
            [PullScope(tuple(jobs) if jobs else None, job_type="command",
                       agent_host=self.host, agent_tags=tuple(tags))],
            voice=AgentVoice(log, ",".join(jobs) if jobs else "every command job"),
            worker_id=f"agent-{self.host}-{os.getpid()}",
            concurrency=concurrency,
            shutdown_grace=grace,
            poll_wait=wait,
            refuses=refused,
            reports_after_grace=REPORT_GRACE,
            hurried_report_grace=REPORT_GRACE,
        )

    async def run(self) -> int:
        """Until SIGTERM/SIGINT: the exit status. Raises ``CliError`` for a bad ``--jobs``."""
        loop = asyncio.get_running_loop()
        installed = install_signal_handlers(loop, self.request_stop)
        try:
            return await super().run()
        except ApiError as exc:  # the pull was refused (and logged)
            if self.lost_reports:
                return 1
            self.voice.stopped()
            return exit_code_for(exc)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def prepare(self) -> None:
        if self.jobs:
            problems = _problems(self.jobs, await self._list_jobs())
            if problems:
                raise CliError("--jobs: " + "; ".join(problems), EXIT_USAGE)

    async def _list_jobs(self) -> list[Job]:
        """Every job of the environment, retried while the server cannot answer. Raises
        ``CliError``: 4 for a refused key, 1 for another refusal; ``Stopped`` if stopped."""
        backoff = reconnect_backoff()
        while True:
            try:
                return await self.until_stopped(self.client.list_jobs())
            except (ConnectionFailed, ServerError, RateLimited) as exc:
                delay = retry_delay(exc, backoff)
                log.warning(
                    "cannot check the --jobs list: %s; retrying in %.1fs", describe_error(exc),
                    delay,
                )  # fmt: skip
                await self.until_stopped(asyncio.sleep(delay))
            except (Unauthorized, Forbidden) as exc:
                raise CliError(
                    f"the server refused the API key: {describe_error(exc)}", EXIT_AUTH
                ) from None
            except SchedoError as exc:
                raise CliError(f"cannot check the --jobs list: {describe_error(exc)}") from None


# -- the command's work (its options: agent_cmd.py) -------------------------------------------


def _parse_jobs(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    codes = [c.strip() for c in raw.split(",") if c.strip()]
    if not codes:
        raise CliError("--jobs: name at least one job (--jobs a,b)", EXIT_USAGE)
    return sorted(set(codes))


def _parse_tags(raw: list[str]) -> tuple[str, ...]:
    tags = sorted({t.strip().lower() for t in raw})
    bad = [t for t in tags if not TAG.match(t)]
    if bad:
        raise CliError(f"--tag: {bad[0]!r} is not a tag (1-63 characters: lowercase letters, "
                       "digits, '.', '_' or '-', starting with a letter or digit)", EXIT_USAGE)
    if len(tags) > TAGS_MAX:
        raise CliError(f"--tag: at most {TAGS_MAX} tags", EXIT_USAGE)
    return tuple(tags)


def run_agent(
    jobs: str | None, concurrency: int, grace: float, tag: list[str] | None, host: str | None,
    url: str, key: str | None, env: int | None,
) -> int:
    """``schedo agent`` with its options parsed: the exit status. Raises ``CliError`` (its
    one line and exit code) for bad options, a bad ``--jobs`` list or a refused key."""
    codes = _parse_jobs(jobs)
    tags = _parse_tags(tag or [])
    if not key:
        raise CliError("no API key: pass --key or set SCHEDO_API_KEY", EXIT_USAGE)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )  # fmt: skip
    log.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise

    async def main() -> int:
        async with AsyncClient(key, url, environment_id=env) as client:
            return await Agent(client, jobs=codes, concurrency=concurrency, grace=grace,
                               host=host, tags=tags).run()

    try:
        return asyncio.run(main())
    except ConfigurationError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
