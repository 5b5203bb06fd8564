from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.worker.helpers import GUARD, FakeClock, MakeWorker, Outcomes, add_job, all_jobs, get_job
from zakipost.models.job import JobStatus
from zakipost.worker import JobContext, Outcome, TaskRegistry, Worker, enqueue


class TestRunUntilIdle:
    async def test_runs_every_due_job_and_stores_results(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
    ) -> None:
        @registry.task("demo.square")
        async def square(ctx: JobContext, *, n: int) -> dict[str, int]:
            return {"square": n * n}

        ids = [await add_job(sessionmaker, "demo.square", {"n": n}, now=clock()) for n in range(5)]
        await add_job(
            sessionmaker,
            "demo.square",
            {"n": 9},
            run_at=clock() + dt.timedelta(days=1),
            now=clock(),
        )

        assert await Worker(sessionmaker, registry, clock=clock).run_until_idle() == 5

        for n, job_id in enumerate(ids):
            job = await get_job(sessionmaker, job_id)
            assert (job.status, job.result, job.finished_at) == (
                JobStatus.succeeded,
                {"square": n * n},
                clock(),
            )

    async def test_runs_follow_ups_queued_by_fenced_writes(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
    ) -> None:
        order: list[str] = []

        @registry.task("demo.first")
        async def first(ctx: JobContext) -> None:
            order.append("first")
            async with ctx.fenced() as session:
                await enqueue(session, "demo.second", {"after": str(ctx.job.id)}, now=ctx.now())

        @registry.task("demo.second")
        async def second(ctx: JobContext, *, after: str) -> None:
            order.append("second")

        await add_job(sessionmaker, "demo.first", now=clock())
        assert await Worker(sessionmaker, registry, clock=clock).run_until_idle() == 2
        assert order == ["first", "second"]

    async def test_runs_at_most_concurrency_jobs_at_once(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
    ) -> None:
        in_flight, peak = 0, 0

        @registry.task("demo.busy")
        async def busy(ctx: JobContext) -> None:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            for _ in range(5):
                await asyncio.sleep(0)
            in_flight -= 1

        for _ in range(7):
            await add_job(sessionmaker, "demo.busy", now=clock())
        assert (
            await Worker(sessionmaker, registry, clock=clock, concurrency=3).run_until_idle() == 7
        )
        assert peak == 3

    async def test_jobs_sharing_a_lock_run_one_after_the_other(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
    ) -> None:
        events: list[str] = []

        @registry.task("demo.step")
        async def step(ctx: JobContext, *, n: int) -> None:
            events.append(f"start {n}")
            await asyncio.sleep(0)
            events.append(f"end {n}")

        for n in range(3):
            await add_job(sessionmaker, "demo.step", {"n": n}, lock="post:1", now=clock())
            clock.advance(1)
        await Worker(sessionmaker, registry, clock=clock, concurrency=3).run_until_idle()

        assert events == ["start 0", "end 0", "start 1", "end 1", "start 2", "end 2"]

    async def test_leaves_kinds_it_does_not_know(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
    ) -> None:
        @registry.task("demo.known")
        async def known(ctx: JobContext) -> None:
            return None

        job_id = await add_job(sessionmaker, "demo.unknown", now=clock())
        assert await Worker(sessionmaker, registry, clock=clock).run_until_idle() == 0
        assert (await get_job(sessionmaker, job_id)).status is JobStatus.todo


class TestStop:
    async def test_graceful_stop_finishes_the_running_job_and_claims_no_more(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        make_worker: MakeWorker,
    ) -> None:
        started, release = asyncio.Event(), asyncio.Event()

        @registry.task("demo.slow")
        async def slow(ctx: JobContext) -> str:
            started.set()
            await release.wait()
            return "done"

        worker = make_worker(concurrency=1)
        first = await add_job(sessionmaker, "demo.slow", now=clock())
        await worker.start()
        async with asyncio.timeout(GUARD):
            await started.wait()
        second = await add_job(sessionmaker, "demo.slow", now=clock())

        stopping = asyncio.create_task(worker.stop())
        await asyncio.sleep(0)
        assert not stopping.done()  # waiting for the running job
        release.set()
        async with asyncio.timeout(GUARD):
            await stopping

        assert (await get_job(sessionmaker, first)).result == "done"
        assert (await get_job(sessionmaker, second)).status is JobStatus.todo

    async def test_stop_after_the_grace_period_releases_the_job(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        make_worker: MakeWorker,
    ) -> None:
        started = asyncio.Event()
        seen: list[str] = []

        @registry.task("demo.endless")
        async def endless(ctx: JobContext) -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        job_id = await add_job(sessionmaker, "demo.endless", now=clock())
        worker = make_worker()
        await worker.start()
        async with asyncio.timeout(GUARD):
            await started.wait()

        await worker.stop(grace_seconds=0)

        job = await get_job(sessionmaker, job_id)
        assert (job.status, job.attempts, job.lease_owner, job.lease_expires_at) == (
            JobStatus.todo,
            0,
            None,
            None,
        )
        assert seen == ["cancelled"]


class TestStartedWorker:
    async def test_runs_jobs_queued_before_it_started(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        outcomes: Outcomes,
        make_worker: MakeWorker,
    ) -> None:
        @registry.task("demo.echo")
        async def echo(ctx: JobContext, *, n: int) -> int:
            return n

        ids = [await add_job(sessionmaker, "demo.echo", {"n": n}, now=clock()) for n in range(10)]
        worker = make_worker(concurrency=3)
        await worker.start()
        for job_id in ids:
            assert await outcomes.wait_for(job_id) == [Outcome.succeeded]
        await worker.stop()
        assert {j.result for j in await all_jobs(sessionmaker)} == set(range(10))
