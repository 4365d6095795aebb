"""A manual trigger's payload reaches the handler as ``ctx.payload`` (None without one)."""

from __future__ import annotations

from typing import Any

from schedo.sdk.definition import JobDefinition
from schedo.sdk.executor import Abort
from schedo.sdk.handlers import HandlerExecutor
from schedo.sdk.models import Execution


async def test_the_handler_sees_the_payload_of_its_run() -> None:
    seen: list[Any] = []

    def handler(ctx: Any) -> str:
        seen.append(ctx.payload)
        return "ok"

    jobs = {"with-payload": JobDefinition(name="with-payload", schedule="* * * * *",
                                          handler=handler)}
    executor = HandlerExecutor(jobs)
    base = {"id": 1, "job_code": "with-payload", "status": "running", "trigger": "manual",
            "scheduled_for": "2026-11-28T12:00:00Z"}
    for data in ({**base, "payload": {"invoice": 42}}, {**base, "payload": None}, base):
        outcome = await executor.run(Execution.from_json(data), Abort())
        assert outcome.success, outcome
    assert seen == [{"invoice": 42}, None, None]
