from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.worker.helpers import GUARD, FakeClock, add_job, all_jobs, claim, get_job
from zakipost.models.account import Account
from zakipost.models.job import Job, JobStatus
from zakipost.worker import cancel, enqueue, lease, move_job, wakeup


def _account(email: str) -> Account:
    return Account(
        email=email,
        password_hash="x",
        client_key=email,
        client_secret_hash="x",
        client_secret_encrypted="x",
    )


class TestEnqueue:
    async def test_job_commits_with_the_callers_writes(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        async with sessionmaker() as session, session.begin():
            session.add(_account("a@example.com"))
            job_id = await enqueue(session, "demo.run", {"n": 1}, now=clock())

        assert job_id is not None
        job = await get_job(sessionmaker, job_id)
        assert (job.kind, job.payload, job.status) == ("demo.run", {"n": 1}, JobStatus.todo)
        assert (job.attempts, job.priority, job.run_at) == (0, 0, clock())
        assert job.lease_owner is None
        assert job.max_attempts is None

    async def test_rolled_back_caller_leaves_no_job(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        async with sessionmaker() as session:
            session.add(_account("b@example.com"))
            await session.flush()
            assert await enqueue(session, "demo.run", now=clock()) is not None
            await session.rollback()

        assert await all_jobs(sessionmaker) == []
        async with sessionmaker() as session:
            assert (await session.scalars(select(Account))).all() == []

    async def test_options_are_stored(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        later = clock() + dt.timedelta(minutes=5)
        job_id = await add_job(
            sessionmaker,
            "demo.run",
            run_at=later,
            priority=7,
            lock="post:1",
            queueing_lock="refresh:1",
            max_attempts=3,
            now=clock(),
        )
        job = await get_job(sessionmaker, job_id)
        assert (job.run_at, job.priority, job.lock) == (later, 7, "post:1")
        assert (job.queueing_lock, job.max_attempts) == ("refresh:1", 3)

    async def test_refuses_a_naive_run_at(self, session: AsyncSession) -> None:
        with pytest.raises(ValueError, match="aware"):
            await enqueue(session, "demo.run", run_at=dt.datetime(2030, 1, 1))


class TestQueueingLock:
    async def test_duplicate_returns_none_and_keeps_the_transaction_usable(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        async with sessionmaker() as session, session.begin():
            first = await enqueue(session, "demo.run", {"v": 1}, queueing_lock="q", now=clock())
            second = await enqueue(session, "demo.run", {"v": 2}, queueing_lock="q", now=clock())
            # Still usable after the duplicate (on PostgreSQL an error would abort it).
            session.add(_account("c@example.com"))

        assert first is not None
        assert second is None
        jobs = await all_jobs(sessionmaker)
        assert [j.payload for j in jobs] == [{"v": 1}]
        async with sessionmaker() as session:
            assert len((await session.scalars(select(Account))).all()) == 1

    async def test_concurrent_duplicates_make_one_job(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        async def enqueue_once(n: int) -> object:
            async with sessionmaker() as session, session.begin():
                return await enqueue(session, "demo.run", {"n": n}, queueing_lock="q", now=clock())

        results = await asyncio.gather(*(enqueue_once(n) for n in range(8)))

        assert sum(r is not None for r in results) == 1
        assert len(await all_jobs(sessionmaker)) == 1

    async def test_a_new_job_may_queue_once_the_first_runs(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        await add_job(sessionmaker, "demo.run", queueing_lock="q", now=clock())
        async with sessionmaker() as session, session.begin():
            claimed = await lease.claim(
                session, owner="w", kinds={"demo.run"}, limit=5, now=clock(), lease_seconds=60
            )
        assert len(claimed) == 1

        again = await add_job(sessionmaker, "demo.run", queueing_lock="q", now=clock())

        assert again != claimed[0].id
        statuses = sorted(j.status for j in await all_jobs(sessionmaker))
        assert statuses == [JobStatus.doing, JobStatus.todo]


class TestCancel:
    async def test_cancels_a_queued_job(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        job_id = await add_job(sessionmaker, "demo.run", now=clock())
        async with sessionmaker() as session, session.begin():
            assert await cancel(session, job_id, now=clock()) is True

        job = await get_job(sessionmaker, job_id)
        assert job.status is JobStatus.cancelled
        assert job.finished_at == clock()

    async def test_leaves_a_running_job(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        job_id = await add_job(sessionmaker, "demo.run", now=clock())
        async with sessionmaker() as session, session.begin():
            await lease.claim(
                session, owner="w", kinds={"demo.run"}, limit=1, now=clock(), lease_seconds=60
            )
        async with sessionmaker() as session, session.begin():
            assert await cancel(session, job_id, now=clock()) is False
        assert (await get_job(sessionmaker, job_id)).status is JobStatus.doing


class TestMoveJob:
    async def test_moves_the_queued_job_and_wakes_workers(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        job_id = await add_job(
            sessionmaker, "demo.run", run_at=clock() + dt.timedelta(hours=2), queueing_lock="post:1"
        )
        calls: list[str] = []
        unsubscribe = wakeup.subscribe(lambda: calls.append("woken"))
        try:
            async with sessionmaker() as session, session.begin():
                assert await move_job(session, "post:1", clock(), now=clock()) is True
        finally:
            unsubscribe()
        assert (await get_job(sessionmaker, job_id)).run_at == clock()
        assert calls == ["woken"]

    async def test_leaves_a_running_job_and_reports_it(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        job_id = await add_job(sessionmaker, "demo.run", queueing_lock="post:1", now=clock())
        await claim(sessionmaker, clock)
        async with sessionmaker() as session, session.begin():
            later = clock() + dt.timedelta(hours=1)
            assert await move_job(session, "post:1", later, now=clock()) is False
            assert await move_job(session, "post:2", later, now=clock()) is False
        assert (await get_job(sessionmaker, job_id)).run_at == clock()


class TestWakeup:
    async def test_signals_after_commit_only(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        calls: list[str] = []
        unsubscribe = wakeup.subscribe(lambda: calls.append("woken"))
        try:
            async with sessionmaker() as session:
                await enqueue(session, "demo.run", now=clock())
                assert calls == []  # not before the job is visible
                await session.rollback()
                assert calls == []  # nor for a job that never existed
                await enqueue(session, "demo.run", now=clock())
                await session.commit()
            assert calls == ["woken"]
        finally:
            unsubscribe()

    async def test_a_duplicate_does_not_signal(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        await add_job(sessionmaker, "demo.run", queueing_lock="q", now=clock())
        calls: list[str] = []
        unsubscribe = wakeup.subscribe(lambda: calls.append("woken"))
        try:
            async with sessionmaker() as session, session.begin():
                assert await enqueue(session, "demo.run", queueing_lock="q", now=clock()) is None
        finally:
            unsubscribe()
        assert calls == []
        assert await session_count(sessionmaker) == 1


async def session_count(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return len((await session.scalars(select(Job))).all())


class TestNotify:
    async def test_only_an_inserted_job_notifies_with_its_kind(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: FakeClock,
        dialect: str,
    ) -> None:
        # The NOTIFY rides on the job INSERT's RETURNING: a duplicate skipped by its
        # queueing lock returns no row, so it must notify no one.
        if dialect != "postgresql":
            pytest.skip("NOTIFY is PostgreSQL's; SQLite wakes in process (TestWakeup)")
        await add_job(sessionmaker, "demo.first", queueing_lock="q", now=clock())
        heard: list[str] = []
        arrived = asyncio.Event()

        def on_notify(*args: object) -> None:
            heard.append(str(args[-1]))
            arrived.set()

        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        listener = await asyncpg.connect(dsn)
        try:
            await listener.add_listener(wakeup.CHANNEL, on_notify)
            async with sessionmaker() as session, session.begin():
                assert await enqueue(session, "demo.dup", queueing_lock="q", now=clock()) is None
            async with sessionmaker() as session, session.begin():
                assert await enqueue(session, "demo.new", now=clock()) is not None
            async with asyncio.timeout(GUARD):
                await arrived.wait()
        finally:
            await listener.close()
        # Delivered in commit order: a NOTIFY from the duplicate would have come first.
        assert heard[0] == "demo.new"
