"""Repository protocols: the whole contract between the services and the database.

Every method is one transaction. Tenant-owned calls take the environment (or organisation)
and never read or touch rows of another one: a foreign id behaves exactly like a missing id
(``NotFound``). Times passed in are aware datetimes from the caller's clock; storage never
reads the wall clock itself. One implementation (``sql.SqlStore``) serves SQLite and
PostgreSQL; the contract tests in tests/contract run against both.
"""

from __future__ import annotations

from typing import Protocol

from .audit import AuditStore
from .chains import ChainStore, JobChain, RunChain, collect_chained
from .live import Appended, LiveStore, LogCaps
from .notify import (
    AlertStore,
    ChannelStore,
    Delivery,
    DueDelivery,
    ExplainStore,
    Notification,
    NotificationRecord,
    NotifyStore,
    NotifyWork,
    PingStore,
)
from .ops import (
    JOB_SORTS,
    Attention,
    DashboardStore,
    DayCount,
    JobFilter,
    JobNaming,
    JobsAtGlance,
    LiveCounts,
    PruneBatch,
    RetentionStore,
    RunMark,
    StatsStore,
)
from .people import PeopleStore
from .replay import ReplayStore
from .runs import (
    ClaimStore,
    ExecutionStore,
    JobStore,
    Planner,
    SchedulerStore,
    TickResult,
    WorkerStore,
)
from .secrets import SecretStore, SigningState
from .tenants import EnvironmentStore, KeyStore, OrgStore

__all__ = [
    "Appended",
    "ClaimStore",
    "DashboardStore",
    "Delivery",
    "DueDelivery",
    "EnvironmentStore",
    "ExecutionStore",
    "JobStore",
    "KeyStore",
    "LiveCounts",
    "LiveStore",
    "LogCaps",
    "Notification",
    "NotificationRecord",
    "NotifyStore",
    "NotifyWork",
    "OrgStore",
    "Planner",
    "PruneBatch",
    "ReplayStore",
    "RetentionStore",
    "SchedulerStore",
    "ServiceStore",
    "StatsStore",
    "Store",
    "TickResult",
    "WorkerStore",
]
__all__ += ["AlertStore", "ChannelStore", "ExplainStore", "PingStore"]  # issue 19
__all__ += ["JOB_SORTS", "Attention", "DayCount", "JobFilter", "JobNaming", "RunMark"]  # issue 22
__all__ += ["ChainStore", "JobChain", "RunChain", "collect_chained"]  # issue 21, chains
__all__ += ["AuditStore"]  # issue 22, the audit log
__all__ += ["SecretStore", "SigningState"]  # issue 22, signature key rotation
__all__ += ["PeopleStore"]  # issue 22, people
__all__ += ["JobsAtGlance"]  # issues 18 + 22, the dashboard at scale


class Store(
    OrgStore,
    EnvironmentStore,
    KeyStore,
    JobStore,
    ExecutionStore,
    ClaimStore,
    WorkerStore,
    SchedulerStore,
    NotifyStore,
    AlertStore,
    PingStore,
    ChannelStore,
    ExplainStore,
    LiveStore,
    ReplayStore,
    ChainStore,
    AuditStore,
    SecretStore,
    PeopleStore,
    Protocol,
):
    async def ping(self) -> None:
        """Raise if the database cannot be reached."""

    async def write_failure(self) -> str | None:
        """Why the database cannot take writes now (disk full, read-only, I/O error), or
        None. Makes a tiny real write at most every few seconds to find out; a failure seen
        by any other write counts until a later write commits."""

    async def close(self) -> None:
        """Release every connection."""


class ServiceStore(Store, RetentionStore, DashboardStore, StatsStore, Protocol):
    """Everything ``services`` asks of storage (``services.context.Services.store``)."""
