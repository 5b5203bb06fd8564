"""Wake-up without polling delay: the tests poll once an hour, so only a wake-up passes."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.worker.helpers import GUARD, FakeClock, MakeWorker, Outcomes, add_job, get_job
from zakipost.worker import JobContext, Outcome, TaskRegistry, enqueue


class TestWakeUp:
    async def test_a_waiting_worker_runs_a_job_committed_elsewhere(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        outcomes: Outcomes,
        make_worker: MakeWorker,
    ) -> None:
        @registry.task("demo.ping")
        async def ping(ctx: JobContext) -> str:
            return "pong"

        worker = make_worker()
        await worker.start()
        async with asyncio.timeout(GUARD):
            await worker.waiting.wait()  # idle: it polls again only in an hour

        job_id = await add_job(sessionmaker, "demo.ping", now=clock())

        # PostgreSQL: NOTIFY on the worker's LISTEN connection; SQLite: the in-process signal.
        assert await outcomes.wait_for(job_id) == [Outcome.succeeded]
        assert (await get_job(sessionmaker, job_id)).result == "pong"

    async def test_an_uncommitted_job_does_not_wake_it(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        outcomes: Outcomes,
        make_worker: MakeWorker,
    ) -> None:
        @registry.task("demo.ping")
        async def ping(ctx: JobContext) -> None:
            return None

        worker = make_worker()
        await worker.start()
        async with asyncio.timeout(GUARD):
            await worker.waiting.wait()
        async with sessionmaker() as session:
            await enqueue(session, "demo.ping", now=clock())
            await session.rollback()
        marker = await add_job(sessionmaker, "demo.ping", now=clock())

        await outcomes.wait_for(marker)
        assert list(outcomes.seen) == [marker]
