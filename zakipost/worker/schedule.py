"""Periodic jobs are rows too: each worker keeps the next occurrence queued.

Occurrences fall on multiples of ``every`` counted from the Unix epoch, so every
worker computes the same slots. Scheduling is safe with any number of workers:
the occurrence is an ordinary job whose ``queueing_lock`` is the periodic's key
(at most one queued at a time), and the check-then-insert runs under a
transaction-scoped lock on that key, so a worker whose clock lags cannot re-create
a slot another worker already scheduled and ran.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.db import dialect
from zakipost.models.job import Job
from zakipost.worker.enqueue import enqueue

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Periodic:
    """Run ``kind`` with ``payload`` at every multiple of ``every``.

    ``name`` tells apart two periodics of the same kind (different payloads); it
    defaults to the kind. A run that is still queued or retrying when its next slot
    comes delays that slot instead of piling up behind it.
    """

    kind: str
    every: dt.timedelta
    payload: dict[str, Any] = field(default_factory=dict, hash=False)
    priority: int = 0
    name: str | None = None

    def __post_init__(self) -> None:
        if self.every < dt.timedelta(seconds=1):
            raise ValueError("a periodic job runs at most once a second")

    @property
    def key(self) -> str:
        """The queueing_lock its occurrences share."""
        return f"periodic:{self.name or self.kind}"

    def next_at(self, now: dt.datetime) -> dt.datetime:
        """The first slot strictly after ``now``."""
        step = self.every // _MICROSECOND
        elapsed = (now - EPOCH) // _MICROSECOND
        return EPOCH + (elapsed // step + 1) * step * _MICROSECOND


async def ensure_scheduled(
    session: AsyncSession, periodics: list[Periodic], *, now: dt.datetime
) -> list[uuid.UUID]:
    """Queue the next occurrence of each periodic that has none; returns the new job ids.

    Runs in the caller's transaction; commit it to publish the jobs.
    """
    created: list[uuid.UUID] = []
    # A fixed order, so two workers taking several key locks cannot deadlock.
    for periodic in sorted(periodics, key=lambda p: p.key):
        slot = periodic.next_at(now)
        await dialect.lock_key(session, periodic.key)
        scheduled = await session.scalar(
            select(Job.id).where(Job.queueing_lock == periodic.key, Job.run_at >= slot).limit(1)
        )
        if scheduled is not None:
            continue
        job_id = await enqueue(
            session,
            periodic.kind,
            periodic.payload,
            run_at=slot,
            priority=periodic.priority,
            queueing_lock=periodic.key,
            now=now,
        )
        if job_id is not None:
            created.append(job_id)
    return created
