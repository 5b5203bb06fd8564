from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.worker.helpers import GUARD, FakeClock, MakeWorker, Outcomes, add_job, get_job
from zakipost.models.job import JobStatus
from zakipost.worker import JobContext, LeaseLost, Outcome, TaskRegistry, lease


class TestHeartbeat:
    async def test_renews_the_leases_of_running_jobs(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        make_worker: MakeWorker,
    ) -> None:
        started, release = asyncio.Event(), asyncio.Event()

        @registry.task("demo.long")
        async def long(ctx: JobContext) -> None:
            started.set()
            await release.wait()

        job_id = await add_job(sessionmaker, "demo.long", now=clock())
        worker = make_worker(lease_seconds=60)
        await worker.start()
        async with asyncio.timeout(GUARD):
            await started.wait()

        clock.advance(45)
        await worker.heartbeat()
        job = await get_job(sessionmaker, job_id)
        assert (job.lease_expires_at, job.heartbeat_at) == (
            clock() + dt.timedelta(seconds=60),
            clock(),
        )
        clock.advance(45)  # past the first lease, within the renewed one
        async with sessionmaker() as session, session.begin():
            assert (
                await lease.claim(
                    session,
                    owner="other",
                    kinds={"demo.long"},
                    limit=1,
                    now=clock(),
                    lease_seconds=60,
                )
                == []
            )
        release.set()

    async def test_a_lost_lease_is_noticed_and_the_new_holder_keeps_the_job(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        outcomes: Outcomes,
        make_worker: MakeWorker,
    ) -> None:
        started, release = asyncio.Event(), asyncio.Event()
        fenced: list[str] = []

        @registry.task("demo.stalls")
        async def stalls(ctx: JobContext) -> str:
            started.set()
            await release.wait()
            try:
                async with ctx.fenced():
                    fenced.append("wrote")
            except LeaseLost:
                fenced.append("refused")
                raise
            return "stale result"

        job_id = await add_job(sessionmaker, "demo.stalls", now=clock())
        worker = make_worker(lease_seconds=60, worker_id="stalled")
        await worker.start()
        async with asyncio.timeout(GUARD):
            await started.wait()

        clock.advance(61)  # the worker stalled past its lease; another one takes over
        async with sessionmaker() as session, session.begin():
            [taken] = await lease.claim(
                session,
                owner="other",
                kinds={"demo.stalls"},
                limit=1,
                now=clock(),
                lease_seconds=60,
            )
        await worker.heartbeat()
        release.set()

        assert await outcomes.wait_for(job_id) == [Outcome.lease_lost]
        assert fenced == ["refused"]
        job = await get_job(sessionmaker, job_id)
        assert (job.status, job.lease_owner, job.result) == (JobStatus.doing, "other", None)
        assert job.lease_generation == taken.lease_generation
