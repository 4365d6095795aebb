"""Engine tests drive the ticker and the reaper directly with the fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schedo.server.scheduler.reaper import Reaper
from schedo.server.scheduler.ticker import Ticker
from tests.conftest import Api


class Engine:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.ticker = Ticker(api.svc)
        self.reaper = Reaper(api.svc)

    @property
    def now(self) -> datetime:
        return self.api.clock.now()

    def at(self, iso: str) -> None:
        self.api.clock.set(datetime.fromisoformat(iso.replace("Z", "+00:00")))

    def advance(self, seconds: float) -> None:
        self.api.clock.advance(seconds)

    async def tick(self) -> int:
        return await self.ticker.tick_once(self.now)

    async def reap(self) -> list[Any]:
        return await self.reaper.reap_once(self.now)

    async def step_to(self, iso: str, step: float = 1.0) -> None:
        """Move the clock second by second to ``iso``, ticking and reaping at each step."""
        end = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        while self.now < end:
            self.api.clock.set(min(end, self.now + timedelta(seconds=step)))
            await self.tick()
            await self.reap()

    async def runs(self, job_id: int) -> list[dict[str, Any]]:
        r = await self.api.client.get(f"/jobs/executions/{job_id}?limit=200",
                                      headers=self.api.admin)
        assert r.status_code == 200, r.text
        return list(reversed(r.json()))  # oldest first

    async def job(self, job_id: int) -> dict[str, Any]:
        return (await self.api.client.get(f"/jobs/{job_id}", headers=self.api.admin)).json()

    async def claim(self, code: str, limit: int = 10) -> list[dict[str, Any]]:
        r = await self.api.client.get(f"/jobs/executions?jobs={code}&wait=0&limit={limit}",
                                      headers=self.api.admin)
        assert r.status_code == 200, r.text
        return list(r.json())

    async def complete(self, exec_id: int, success: bool = True, **kw: Any) -> dict[str, Any]:
        r = await self.api.client.post(f"/jobs/executions/complete/{exec_id}",
                                       json={"success": success, **kw}, headers=self.api.admin)
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
def engine(api: Api) -> Engine:
    return Engine(api)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
