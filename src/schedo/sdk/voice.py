"""``Voice``: the log lines of the worker runtime (``runtime.py``), one per event.

The runtime says what happened (a pull failed, a stop was requested, a report was dropped);
the voice words it. This class has the wording of ``schedo worker`` / ``Schedo.run()`` (on
the ``schedo.worker`` logger); ``schedo agent`` speaks through a subclass of its own
(``schedo.cli.agent.AgentVoice``). Each method is one event; the docs quote some of these
lines (docs/cli.md), and tests look for them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .backoff import retryable
from .executor import format_seconds


class Voice:
    def __init__(self, log: logging.Logger, serves: str) -> None:
        self.log = log
        self.serves = serves  # what the runtime pulls, for the line at its start

    # -- pulling ---------------------------------------------------------------------------
    def serving(self, worker_id: str, concurrency: int, base_url: str) -> None:
        self.log.info("worker %s serving %s (concurrency %d)", worker_id, self.serves, concurrency)

    def pull_failed(self, exc: BaseException, delay: float) -> None:
        level = logging.WARNING if retryable(exc) else logging.ERROR
        self.log.log(level, "pull failed (%s); retrying in %.1fs", exc, delay)

    def pull_refused(self, exc: BaseException) -> None:
        self.log.error("pull refused (%s): stopping the worker", exc)

    def reconnected(self, base_url: str, failures: int) -> None:
        self.log.info("reconnected to %s after %d failed attempt(s)", base_url, failures)

    def handed_twice(self, execution_id: int) -> None:
        self.log.warning("execution %d was handed out twice; ignoring the copy", execution_id)

    def run_crashed(self, execution_id: int) -> None:
        self.log.exception("run %d: unexpected error", execution_id)

    # -- stopping --------------------------------------------------------------------------
    def stopping(self, reason: str, grace: float, running: int) -> None:
        self.log.info(
            "%s: stopping (waiting up to %s for %d running handler(s); "
            "a second signal gives up on them at once)",
            reason,
            format_seconds(grace),
            running,
        )

    def hurrying(self, reason: str) -> None:
        self.log.warning(
            "%s again: shutting down now without waiting for running handlers", reason
        )

    def hurried_again(self, reason: str) -> None:
        self.log.warning("%s again: already shutting down without waiting", reason)

    def giving_up(self, running: int) -> None:
        """The shutdown grace expired with ``running`` runs still going (said in their
        reports: nothing more to log)."""

    def lost(self, execution_ids: Sequence[int]) -> None:
        self.log.error(
            "could not report %d result(s) before shutting down (executions %s); "
            "the server will expire them",
            len(execution_ids),
            ", ".join(map(str, execution_ids)),
        )

    def stopped(self) -> None:
        self.log.info("worker stopped")

    # -- reporting -------------------------------------------------------------------------
    def report_failed(self, execution_id: int, exc: BaseException, delay: float) -> None:
        self.log.warning(
            "report of execution %d failed (%s); retrying in %.1fs", execution_id, exc, delay
        )

    def report_refused(self, execution_id: int, exc: BaseException) -> None:
        """404/409: the run was deleted, or ended differently meanwhile."""
        self.log.warning(
            "report of execution %d refused by the server (%s); dropped", execution_id, exc
        )

    def report_simplified(self, execution_id: int, exc: BaseException) -> None:
        self.log.error(
            "report of execution %d could not be sent as it is (%s: %s); "
            "sending it again with its text simplified",
            execution_id,
            type(exc).__name__,
            exc,
        )

    def report_dropped(self, execution_id: int, exc: BaseException) -> None:
        self.log.error("report of execution %d failed (%s); dropped", execution_id, exc)

    def report_delivered(self, execution_id: int, retries: int) -> None:
        self.log.info("report of execution %d delivered after %d retries", execution_id, retries)
