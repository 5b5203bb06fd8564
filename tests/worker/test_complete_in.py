"""JobContext.complete_in: a handler's last fenced write and its job's completion commit in
one transaction, or neither does."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.worker.helpers import FakeClock, add_job, get_job
from zakipost.models import RateBudgetUse
from zakipost.models.job import JobStatus
from zakipost.worker import JobContext, LeaseLost, Outcome, RetryStrategy, TaskRegistry, Worker

Maker = async_sessionmaker[AsyncSession]


class Crash(Exception):
    pass


async def _marks(sessionmaker: Maker) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(text("SELECT count(*) FROM rate_budget_uses")) or 0)


async def _mark(session: AsyncSession) -> None:
    # Any row the handler writes.
    session.add(RateBudgetUse(bucket="test:mark", at=dt.datetime.now(dt.UTC)))
    await session.flush()


class TestCompleteIn:
    async def test_the_last_write_completes_the_job_and_the_runner_writes_nothing_more(
        self,
        sessionmaker: Maker,
        engine: AsyncEngine,
        registry: TaskRegistry,
        clock: FakeClock,
    ) -> None:
        after: list[str] = []

        @registry.task("demo.last")
        async def last(ctx: JobContext) -> str:
            async with ctx.fenced() as session:
                await _mark(session)
                await ctx.complete_in(session, "done")
            assert ctx.completed and ctx.lease_lost  # nothing renews it now
            with pytest.raises(LeaseLost):
                async with ctx.fenced():
                    pass
            after.append("returned")
            return "done"

        job_id = await add_job(sessionmaker, "demo.last", lock="thing:1", now=clock())
        seen: list[Outcome] = []
        begun: list[int] = []
        worker = Worker(
            sessionmaker, registry, clock=clock, on_outcome=lambda job, o: seen.append(o)
        )

        def on_begin(connection: Any) -> None:
            if after:  # once the handler has returned
                begun.append(1)

        event.listen(engine.sync_engine, "begin", on_begin)
        try:
            assert await worker.run_until_idle() == 1
        finally:
            event.remove(engine.sync_engine, "begin", on_begin)

        job = await get_job(sessionmaker, job_id)
        assert (job.status, job.result, job.attempts) == (JobStatus.succeeded, "done", 1)
        assert job.lease_expires_at is None
        assert seen == [Outcome.succeeded]
        assert await _marks(sessionmaker) == 1
        # After the handler: the worker's next claim only (empty), no completion write.
        assert len(begun) == 1

    async def test_a_crash_before_the_commit_keeps_neither(
        self, sessionmaker: Maker, registry: TaskRegistry, clock: FakeClock
    ) -> None:
        attempts: list[int] = []

        @registry.task("demo.last", retry=RetryStrategy(max_attempts=3, base_delay=0.0))
        async def last(ctx: JobContext) -> str:
            attempts.append(ctx.attempt)
            async with ctx.fenced() as session:
                await _mark(session)
                await ctx.complete_in(session, "done")
                if ctx.attempt == 1:
                    raise Crash()  # the worker dies between the completion and the commit
            return "done"

        job_id = await add_job(sessionmaker, "demo.last", now=clock())
        await Worker(sessionmaker, registry, clock=clock).run_until_idle()

        # The first attempt left nothing: the write and the completion went together.
        job = await get_job(sessionmaker, job_id)
        assert (job.status, job.result, job.attempts) == (JobStatus.succeeded, "done", 2)
        assert attempts == [1, 2]
        assert await _marks(sessionmaker) == 1

    async def test_an_error_after_the_commit_leaves_the_job_succeeded(
        self, sessionmaker: Maker, registry: TaskRegistry, clock: FakeClock
    ) -> None:
        @registry.task("demo.last")
        async def last(ctx: JobContext) -> str:
            async with ctx.fenced() as session:
                await ctx.complete_in(session, "done")
            raise Crash()  # cleaning up after the job ended failed: it stays done

        job_id = await add_job(sessionmaker, "demo.last", now=clock())
        seen: list[Outcome] = []
        worker = Worker(
            sessionmaker, registry, clock=clock, on_outcome=lambda job, o: seen.append(o)
        )
        assert await worker.run_until_idle() == 1

        job = await get_job(sessionmaker, job_id)
        assert (job.status, job.result, job.attempts) == (JobStatus.succeeded, "done", 1)
        assert seen == [Outcome.succeeded]

    async def test_a_lost_lease_completes_nothing(
        self, sessionmaker: Maker, registry: TaskRegistry, clock: FakeClock
    ) -> None:
        @registry.task("demo.last", lease_seconds=10)
        async def last(ctx: JobContext) -> str:
            clock.advance(11)  # the lease ran out while the handler worked
            async with ctx.fenced() as session:
                await _mark(session)
                await ctx.complete_in(session, "done")
            return "done"

        job_id = await add_job(sessionmaker, "demo.last", now=clock())
        seen: list[Outcome] = []
        worker = Worker(
            sessionmaker, registry, clock=clock, on_outcome=lambda job, o: seen.append(o)
        )
        await worker.run_until_idle(max_jobs=1)

        job = await get_job(sessionmaker, job_id)
        assert job.status is JobStatus.doing  # its next holder will run it
        assert seen == [Outcome.lease_lost]
        assert await _marks(sessionmaker) == 0

    async def test_a_result_that_is_not_json_is_refused_before_anything_commits(
        self, sessionmaker: Maker, registry: TaskRegistry, clock: FakeClock
    ) -> None:
        @registry.task("demo.last", retry=RetryStrategy(max_attempts=1))
        async def last(ctx: JobContext) -> None:
            async with ctx.fenced() as session:
                await _mark(session)
                await ctx.complete_in(session, object())

        job_id = await add_job(sessionmaker, "demo.last", now=clock())
        await Worker(sessionmaker, registry, clock=clock).run_until_idle()

        job = await get_job(sessionmaker, job_id)
        assert job.status is JobStatus.failed
        assert await _marks(sessionmaker) == 0
