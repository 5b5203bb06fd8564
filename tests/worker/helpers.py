"""Small helpers for worker tests: a clock tests can move, and access to the jobs table."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.models.job import Job
from zakipost.worker import ClaimedJob, Outcome, Worker, enqueue, lease

MakeWorker = Callable[..., Worker]


class FakeClock:
    """Now, as the test decides: starts at a round time near the real one, moves on demand."""

    def __init__(self) -> None:
        real = dt.datetime.now(dt.UTC)
        self.current = real.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)

    def __call__(self) -> dt.datetime:
        return self.current

    def advance(self, seconds: float = 0, **kwargs: float) -> dt.datetime:
        self.current += dt.timedelta(seconds=seconds, **kwargs)
        return self.current


async def add_job(
    sessionmaker: async_sessionmaker[AsyncSession],
    kind: str,
    payload: dict[str, Any] | None = None,
    **kwargs: Any,
) -> uuid.UUID:
    """Enqueue one job in its own committed transaction."""
    async with sessionmaker() as session, session.begin():
        job_id = await enqueue(session, kind, payload, **kwargs)
    assert job_id is not None
    return job_id


async def get_job(sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> Job:
    async with sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def all_jobs(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Job]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Job).order_by(Job.created_at))).all())


# A guard against a hung test, never an assertion about speed: the wake-up tests use a
# poll interval of an hour, so only the wake-up itself can make them pass.
GUARD = 20


class Outcomes:
    """Collects what the worker reports, and lets a test wait for a given job."""

    def __init__(self) -> None:
        self.seen: dict[uuid.UUID, list[Outcome]] = {}
        self._events: defaultdict[uuid.UUID, asyncio.Event] = defaultdict(asyncio.Event)

    def __call__(self, job: ClaimedJob, outcome: Outcome) -> None:
        self.seen.setdefault(job.id, []).append(outcome)
        self._events[job.id].set()

    async def wait_for(self, job_id: uuid.UUID) -> list[Outcome]:
        async with asyncio.timeout(GUARD):
            await self._events[job_id].wait()
        return self.seen[job_id]


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    owner: str = "w1",
    limit: int = 10,
    lease_seconds: float = 60,
) -> list[ClaimedJob]:
    async with sessionmaker() as session, session.begin():
        return await lease.claim(
            session,
            owner=owner,
            kinds={"demo.run"},
            limit=limit,
            now=clock(),
            lease_seconds=lease_seconds,
        )
