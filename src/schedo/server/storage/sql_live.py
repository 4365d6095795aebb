"""Runs while they run: cancellation and live output (contract: ``contracts/live.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select, update

from ..domain import lifecycle
from ..domain.errors import NotFound
from ..domain.model import RunStatus
from ..domain.records import LogLine, Run
from . import rows
from .contracts.live import Appended, LogCaps
from .db import Database
from .run_rows import after_end
from .schema import execution_logs, executions

CUT = "cut"


class LiveSql:
    db: Database

    async def cancel(
        self, env_id: int, exec_id: int, now: datetime, reason: str | None = None
    ) -> Run:
        async with self.db.write() as c:
            q = select(executions).where(
                executions.c.id == exec_id, executions.c.environment_id == env_id)
            r = (await c.execute(self.db.for_update(q))).first()
            if r is None:
                raise NotFound(f"execution {exec_id} not found")
            done = lifecycle.cancel(rows.execution(r), now, reason)
            await c.execute(
                update(executions).where(executions.c.id == exec_id).values(
                    status=done.status.value, end_time=done.end_time, duration=done.duration,
                    error=done.error))
            await after_end(self.db, c, [done], now)
            return done

    async def cancelled_among(self, env_id: int, ids: Sequence[int]) -> list[int]:
        if not ids:
            return []
        async with self.db.read() as c:
            res = await c.execute(
                select(executions.c.id).where(
                    executions.c.id.in_(sorted(set(ids))),
                    executions.c.environment_id == env_id,
                    executions.c.status == RunStatus.CANCELLED.value,
                ).order_by(executions.c.id))
            return [int(i) for i in res.scalars()]

    async def append_log(
        self, env_id: int, exec_id: int, lines: Sequence[tuple[datetime, str, str]],
        caps: LogCaps,
    ) -> Appended:
        async with self.db.write() as c:
            status = (await c.execute(select(executions.c.status).where(
                executions.c.id == exec_id, executions.c.environment_id == env_id))).scalar()
            if status is None:
                raise NotFound(f"execution {exec_id} not found")
            live = RunStatus(status) in (RunStatus.PENDING, RunStatus.RUNNING)
            n, size, cut = (await c.execute(
                select(func.count(), func.coalesce(func.sum(func.length(execution_logs.c.line)), 0),
                       func.coalesce(func.max(case((execution_logs.c.stream == CUT, 1),
                                                   else_=0)), 0))
                .where(execution_logs.c.execution_id == exec_id))).one()
            if cut:
                return Appended(0, len(lines), live)
            kept: list[dict[str, object]] = []
            n, size = int(n), int(size)
            for at, stream, line in lines:
                if n + 1 >= caps.lines or size + len(line) > caps.bytes:
                    break
                kept.append({"execution_id": exec_id, "environment_id": env_id, "at": at,
                             "stream": stream, "line": line})
                n += 1
                size += len(line)
            rows_ = list(kept)
            if len(kept) < len(lines):
                at = lines[len(kept)][0]
                rows_.append({
                    "execution_id": exec_id, "environment_id": env_id, "at": at,
                    "stream": CUT,
                    "line": f"[log cut: this run's log reached its cap ({caps.lines} lines, "
                            f"{caps.bytes} characters); later lines were dropped]"})
            if rows_:
                await c.execute(execution_logs.insert(), rows_)
            return Appended(len(kept), len(lines) - len(kept), live)

    async def read_log(
        self, env_id: int, exec_id: int, after_id: int, limit: int
    ) -> tuple[Run, list[LogLine]]:
        async with self.db.read() as c:
            r = (await c.execute(select(executions).where(
                executions.c.id == exec_id, executions.c.environment_id == env_id))).first()
            if r is None:
                raise NotFound(f"execution {exec_id} not found")
            res = await c.execute(
                select(execution_logs.c.id, execution_logs.c.at, execution_logs.c.stream,
                       execution_logs.c.line)
                .where(execution_logs.c.execution_id == exec_id,
                       execution_logs.c.id > after_id)
                .order_by(execution_logs.c.id).limit(limit))
            return rows.execution(r), [LogLine(int(x.id), x.at, x.stream, x.line) for x in res]
