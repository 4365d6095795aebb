"""``SqlStore``: the one implementation of contracts.Store, on SQLAlchemy Core."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from sqlalchemy import select, text, update

from ..domain.errors import Conflict
from .db import Database
from .schema import environments, server_meta
from .sealing import CHECK_CONTEXT, CHECK_PLAIN, Sealer, SealError, env_context, is_sealed
from .sql_alerts import AlertSql
from .sql_audit import AuditSql
from .sql_chains import ChainSql
from .sql_channels import ChannelSql
from .sql_dashboard import DashboardSql
from .sql_explain import ExplainSql
from .sql_jobs import JobSql
from .sql_live import LiveSql
from .sql_notify import NotifySql
from .sql_people import PeopleSql
from .sql_pings import PingSql
from .sql_replay import ReplaySql
from .sql_retention import RetentionSql
from .sql_runs import RunSql
from .sql_schedule import ScheduleSql
from .sql_secrets import SecretSql
from .sql_stats import StatsSql
from .sql_tenants import TenantSql
from .sql_workers import WorkerSql

PROBE_EVERY = 5.0  # seconds between two write probes of /readyz
PROBE_KEY = "readyz_probe"
KEY_CHECK = "secret_key_check"  # a sealed constant: is this the key the data was sealed with?


class SqlStore(
    TenantSql, JobSql, RunSql, ScheduleSql, WorkerSql, NotifySql, RetentionSql, StatsSql,
    DashboardSql, AlertSql, PingSql, ChannelSql, ExplainSql, LiveSql, ReplaySql, ChainSql,
    AuditSql, PeopleSql, SecretSql,
):
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer
        self._probed = -PROBE_EVERY

    async def prepare_sealing(self) -> int:
        """Check the sealing key against the database (writing the check value on first
        use) and seal the plaintext signature keys left from before sealing; return how many
        were sealed. Raises SealError for a key that is not the one the database was sealed
        with. Safe from several processes at once: the check value is written once (the
        first process wins and the others are checked against it) and each re-seal is
        conditional on the value it read."""
        check = await self.get_meta(KEY_CHECK)
        if check is None:
            stmt = self.db.insert(server_meta).on_conflict_do_nothing(index_elements=["key"])
            async with self.db.write() as c:
                await c.execute(stmt, {"key": KEY_CHECK,
                                       "value": self.sealer.seal(CHECK_PLAIN, CHECK_CONTEXT)})
            check = await self.get_meta(KEY_CHECK)
        if check is None or self.sealer.try_unseal(check, CHECK_CONTEXT) != CHECK_PLAIN:
            raise SealError(
                f"the secret key ({self.sealer.source.describe()}) is not the one this "
                "database's webhook signature keys were sealed with; give the server that key "
                "(SCHEDO_SECRET_KEY or SCHEDO_SECRET_KEY_FILE), or, if it is lost, run "
                "'schedo reset-signature-keys' (docs/hardening.md, Secrets at rest)"
            )
        sealed, unreadable = 0, []
        async with self.db.write() as c:
            res = await c.execute(select(environments.c.id, environments.c.webhook_signature_key)
                                  .order_by(environments.c.id))  # one lock order for all
            for env_id, stored in res.all():
                if is_sealed(stored):
                    if self.sealer.try_unseal(stored, env_context(env_id)) is None:
                        unreadable.append(env_id)
                    continue
                done = await c.execute(
                    update(environments)
                    .where(environments.c.id == env_id,
                           environments.c.webhook_signature_key == stored)
                    .values(webhook_signature_key=self.sealer.seal(stored, env_context(env_id)))
                )
                sealed += done.rowcount
        if unreadable:
            raise SealError(
                f"the webhook signature keys of environment(s) {unreadable[:20]} do not open with "
                f"this server's secret key ({self.sealer.source.describe()}): were they sealed by "
                "a process with another SCHEDO_SECRET_KEY? Give every process the same key, or "
                "run 'schedo reset-signature-keys'"
            )
        return sealed

    async def reset_signature_keys(self, new_key: Callable[[], str]) -> list[str]:
        """Give every environment a new signature key sealed with this store's key and make
        this key the database's: the way back from a lost sealing key (receivers must then
        be given the new keys). Returns the environment names. On PostgreSQL it is refused
        (SealError) while a server process serves the database (its shared serving lock)."""
        async with self.db.write() as c:
            try:
                await self.db.refuse_while_serving(c)
            except Conflict as exc:
                raise SealError(str(exc)) from None
            await c.execute(server_meta.delete().where(server_meta.c.key == KEY_CHECK))
            await c.execute(server_meta.insert().values(
                key=KEY_CHECK, value=self.sealer.seal(CHECK_PLAIN, CHECK_CONTEXT)))
            res = await c.execute(
                select(environments.c.id, environments.c.name).order_by(environments.c.id))
            envs = res.all()
            for env_id, _name in envs:
                await c.execute(update(environments).where(environments.c.id == env_id)
                                .values(webhook_signature_key=self.sealer.seal(
                                    new_key(), env_context(env_id)),
                                        # a previous key sealed with the lost key: gone
                                        previous_signature_key=None,
                                        previous_signature_expires_at=None))
        return [name for _id, name in envs]

    async def ping(self) -> None:
        async with self.db.read() as c:
            await c.execute(text("SELECT 1"))

    async def write_failure(self) -> str | None:
        now = time.monotonic()
        if now - self._probed >= PROBE_EVERY:
            self._probed = now
            with contextlib.suppress(Exception):  # the failure is what we are looking for
                stmt = self.db.insert(server_meta)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["key"], set_={"value": stmt.excluded.value}
                )
                # a real page write, so a full disk or a read-only file shows
                async with self.db.write() as c:
                    await c.execute(stmt, {"key": PROBE_KEY, "value": str(time.time())})
        return self.db.write_failure

    async def close(self) -> None:
        await self.db.dispose()
