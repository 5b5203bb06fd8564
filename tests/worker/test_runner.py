from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.worker.helpers import GUARD, FakeClock, MakeWorker, Outcomes, add_job, all_jobs, get_job
from zakipost.models.job import JobStatus
from zakipost.worker import ClaimedJob, JobContext, Outcome, TaskRegistry, Worker, enqueue, lease


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


class TestClaimCycle:
    async def test_a_claim_fills_every_free_slot_at_once(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        outcomes: Outcomes,
        make_worker: MakeWorker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        @registry.task("demo.echo")
        async def echo(ctx: JobContext, *, n: int) -> int:
            return n

        claims: list[tuple[int, int]] = []
        claim = lease.claim

        async def counted(session: AsyncSession, **kwargs: Any) -> list[ClaimedJob]:
            jobs = await claim(session, **kwargs)
            claims.append((kwargs["limit"], len(jobs)))
            return jobs

        monkeypatch.setattr(lease, "claim", counted)
        ids = [await add_job(sessionmaker, "demo.echo", {"n": n}, now=clock()) for n in range(10)]
        worker = make_worker(concurrency=4)
        await worker.start()
        for job_id in ids:
            assert await outcomes.wait_for(job_id) == [Outcome.succeeded]

        assert claims[0] == (4, 4)
        assert sum(n for _, n in claims) == 10

    async def test_the_next_job_is_claimed_with_the_outcome(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        outcomes: Outcomes,
        make_worker: MakeWorker,
    ) -> None:
        order: list[int] = []

        @registry.task("demo.echo")
        async def echo(ctx: JobContext, *, n: int) -> None:
            order.append(n)

        ids = [
            await add_job(sessionmaker, "demo.echo", {"n": n}, now=clock.advance(1))
            for n in range(3)
        ]
        worker = make_worker(concurrency=1)  # poll_interval: an hour
        engine = worker.engine.sync_engine
        transactions: list[object] = []

        def count(conn: object) -> None:
            transactions.append(conn)

        await worker.start()
        event.listen(engine, "begin", count)
        try:
            for job_id in ids:
                assert await outcomes.wait_for(job_id) == [Outcome.succeeded]
            async with asyncio.timeout(GUARD):
                await worker.waiting.wait()
        finally:
            event.remove(engine, "begin", count)

        assert order == [0, 1, 2]
        # The first claim; each outcome with the claim of the next job (the last finding
        # none); then the loop's own claim, which finds none and reads when to look again.
        # Without the claim in the outcome's transaction: 3 more; with next_due apart: 1 more.
        assert len(transactions) == 1 + 3 + 1
