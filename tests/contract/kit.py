"""Building blocks of the storage contract suite: opening stores, a two-tenant world, and
inputs made of the domain's own records (JobSpec, Completion, TickPlan)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from schedo.server.domain.lifecycle import TickPlan
from schedo.server.domain.model import CatchUp, JobType
from schedo.server.domain.records import ApiKey, Completion, Job, JobSpec, Run
from schedo.server.storage.contracts import Planner
from schedo.server.storage.db import Database
from schedo.server.storage.migrate import migrate
from schedo.server.storage.sealing import Sealer
from schedo.server.storage.sql import SqlStore

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
PEPPER = "contract-suite-pepper"
OK = Completion(success=True, output="fine")
FAIL = Completion(success=False, error="boom", exit_code=1)


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


class Stores:
    """Stores opened on one database URL, each with its own engines (as separate server
    processes have); ``close_all`` reports leaked connections and disposes them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sealer = Sealer.random()  # every process of a deployment shares the key
        self.opened: list[SqlStore] = []

    async def open(self) -> SqlStore:
        db = Database(self.url)
        self.opened.append(SqlStore(db, self.sealer))
        await migrate(db)
        return self.opened[-1]

    async def close_all(self) -> list[str]:
        leaks = []
        for i, s in enumerate(self.opened):
            out = s.db.checked_out()
            if out:
                leaks.append(f"store {i}: {out} connections checked out")
            await s.db.dispose()
        self.opened.clear()
        return leaks


def spec(name: str = "nightly", **changes: Any) -> JobSpec:
    """A valid definition (an sdk job, every 5 minutes, no retries); ``changes`` override."""
    base = JobSpec(
        name=name, type=JobType.SDK, cron_expression="*/5 * * * *", timezone="UTC",
        catch_up=CatchUp.LATEST, blocking=False, timeout_seconds=30, max_retries=0,
        metadata={"team": "ops"}, webhook_url=None, command=None,
    )
    return replace(base, **changes)


def plan(*run: datetime, next_run_at: datetime | None = None, skipped_at: datetime | None = None,
         skipped_error: str | None = None, caught_up: Sequence[datetime] = ()) -> TickPlan:
    return TickPlan(run=list(run), skipped_at=skipped_at, skipped_error=skipped_error,
                    next_run_at=next_run_at, caught_up=list(caught_up))


def planner(plans: dict[int, TickPlan], seen: list[int] | None = None) -> Planner:
    """A planner answering from ``plans`` by job id (recording the ids it was asked for)."""
    def decide(job: Job) -> TickPlan:
        if seen is not None:
            seen.append(job.id)
        return plans[job.id]
    return decide


def key_material() -> tuple[str, str]:
    """A lookup prefix and a digest, as the services store them (the secret never does)."""
    secret = "sk_" + secrets.token_urlsafe(32)
    return secret[:16], hashlib.sha256((PEPPER + secret).encode()).hexdigest()


@dataclass
class World:
    """Organisation ``org`` with environments ``env`` and ``env2``; organisation
    ``other_org`` with ``other_env``. ``admin``: organisation 1's bootstrap admin key."""

    store: SqlStore
    org: int
    env: int
    env2: int
    other_org: int
    other_env: int
    admin: ApiKey

    async def job(self, name: str = "nightly", env: int | None = None,
                  next_run_at: datetime | None = None, **changes: Any) -> Job:
        job, created = await self.store.upsert_job(
            self.env if env is None else env, spec(name, **changes), T0,
            next_run_at or at(300), True,
        )
        assert created
        return job

    async def key(self, env: int | None = None, *, org: int | None = None,
                  admin: bool = False, name: str = "k") -> ApiKey:
        prefix, digest = key_material()
        return await self.store.create_key(
            org_id=self.org if org is None else org, env_id=None if admin else (env or self.env),
            name=name, prefix=prefix, digest=digest, admin=admin, internal=False, now=T0,
        )

    async def runs(self, job: Job, n: int = 1, now: datetime = T0) -> list[Run]:
        """``n`` pending manual runs of a non-blocking job, due ``now``."""
        return [await self.store.trigger(job.environment_id, job.id, now) for _ in range(n)]

    async def claimed(self, job: Job, now: datetime = T0) -> Run:
        """One run of ``job`` claimed (running) at ``now``."""
        run = (await self.runs(job, now=now))[0]
        got = await self.store.claim(job.environment_id, [job.name], [job.type.value], now, 1)
        assert [e.id for e in got] == [run.id]
        return got[0]


async def build_world(store: SqlStore) -> World:
    prefix, digest = key_material()
    assert await store.bootstrap(
        org_name="Default organization", env_name="production", signature_key="sig-one",
        admin_prefix=prefix, admin_digest=digest, pepper=PEPPER, now=T0,
    )
    admin = await store.find_key(prefix)
    assert admin is not None
    env2 = await store.create_environment(1, "staging", "sig-two", T0)
    other = await store.create_org("Other org", T0)
    other_env = await store.create_environment(other.id, "other-production", "sig-other", T0)
    return World(store=store, org=1, env=1, env2=env2.id, other_org=other.id,
                 other_env=other_env.id, admin=admin)
