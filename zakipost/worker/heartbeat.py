"""Heartbeat: renewing the leases of running jobs, so live work is never reclaimed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.logging import get_logger
from zakipost.worker import lease
from zakipost.worker.execute import Execution
from zakipost.worker.registry import TaskRegistry

log = get_logger("zakipost.worker")


def interval(registry: TaskRegistry, lease_seconds: float) -> float:
    """Seconds between beats: three per (shortest) lease, so one missed beat is harmless."""
    overrides = [t.lease_seconds for t in registry.tasks if t.lease_seconds]
    return min([lease_seconds, *overrides]) / 3


async def renew_leases(
    sessionmaker: async_sessionmaker[AsyncSession],
    executions: Iterable[Execution],
    *,
    now: dt.datetime,
    lease_seconds: float,
) -> None:
    """Renew every live lease in one transaction, one statement per lease length (one in
    all, unless tasks have lengths of their own); tell each execution whose lease is gone.

    ``lease_seconds`` applies to tasks without a lease length of their own.
    """
    by_length: dict[float, list[Execution]] = {}
    for execution in executions:
        if not execution.ctx.lease_lost:
            seconds = execution.task.lease_seconds or lease_seconds
            by_length.setdefault(seconds, []).append(execution)
    if not by_length:
        return
    async with lease.transaction(sessionmaker, idle_seconds=lease_seconds) as session:
        for seconds, group in by_length.items():
            jobs = [e.ctx.job for e in group]
            renewed = await lease.renew_all(session, jobs, now=now, lease_seconds=seconds)
            for execution in group:
                job = execution.ctx.job
                expires_at = renewed[job.id]
                if expires_at is None:
                    execution.ctx.mark_lease_lost()
                    log.warning("job.lease_lost", job_id=str(job.id), kind=job.kind)
                else:
                    execution.ctx.lease_expires_at = expires_at
