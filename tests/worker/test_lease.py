from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.worker.helpers import FakeClock, add_job, all_jobs, claim, get_job
from zakipost.models.job import JobStatus
from zakipost.worker import ClaimedJob, lease


async def finish(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock, job: ClaimedJob
) -> bool:
    async with sessionmaker() as session, session.begin():
        return await lease.complete(session, job, now=clock())


class TestClaim:
    async def test_takes_due_jobs_by_priority_then_run_at(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        now = clock()
        late = await add_job(
            sessionmaker, "demo.run", run_at=now - dt.timedelta(seconds=1), now=now
        )
        early = await add_job(
            sessionmaker, "demo.run", run_at=now - dt.timedelta(seconds=9), now=now
        )
        urgent = await add_job(sessionmaker, "demo.run", priority=5, now=now)
        await add_job(sessionmaker, "demo.run", run_at=now + dt.timedelta(seconds=1), now=now)
        await add_job(sessionmaker, "other.kind", now=now)

        jobs = await claim(sessionmaker, clock)

        assert [j.id for j in jobs] == [urgent, early, late]

    async def test_sets_the_lease_and_counts_the_attempt(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        job_id = await add_job(sessionmaker, "demo.run", {"n": 1}, now=clock())

        [job] = await claim(sessionmaker, clock, owner="w1", lease_seconds=30)

        assert (job.id, job.payload, job.attempts, job.lease_owner) == (job_id, {"n": 1}, 1, "w1")
        assert job.lease_expires_at == clock() + dt.timedelta(seconds=30)
        row = await get_job(sessionmaker, job_id)
        assert row.status is JobStatus.doing
        assert row.heartbeat_at == clock()
        assert row.lease_generation == job.lease_generation == 1

    async def test_a_task_may_have_its_own_lease_length(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        short = await add_job(sessionmaker, "demo.run", now=clock())
        long = await add_job(sessionmaker, "demo.long", now=clock())
        async with sessionmaker() as session, session.begin():
            jobs = await lease.claim(
                session,
                owner="w1",
                kinds={"demo.run", "demo.long"},
                limit=5,
                now=clock(),
                lease_seconds=60,
                lease_seconds_by_kind={"demo.long": 600},
            )
        expiry = {job.id: job.lease_expires_at - clock() for job in jobs}
        assert expiry == {short: dt.timedelta(seconds=60), long: dt.timedelta(seconds=600)}
        stored = (await get_job(sessionmaker, long)).lease_expires_at
        assert stored == clock() + dt.timedelta(seconds=600)

    async def test_respects_the_limit(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        for _ in range(5):
            await add_job(sessionmaker, "demo.run", now=clock())
        assert len(await claim(sessionmaker, clock, limit=2)) == 2
        assert len(await claim(sessionmaker, clock, limit=10)) == 3
        assert await claim(sessionmaker, clock) == []

    async def test_concurrent_claimers_take_each_job_exactly_once(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        expected = {await add_job(sessionmaker, "demo.run", now=clock()) for _ in range(60)}

        async def claimer(owner: str) -> list[uuid.UUID]:
            taken: list[uuid.UUID] = []
            while batch := await claim(sessionmaker, clock, owner=owner, limit=3):
                taken += [job.id for job in batch]
                await asyncio.sleep(0)
            return taken

        results = await asyncio.gather(*(claimer(f"w{n}") for n in range(8)))

        claimed = [job_id for taken in results for job_id in taken]
        assert len(claimed) == len(expected)
        assert set(claimed) == expected
        rows = await all_jobs(sessionmaker)
        assert all(j.attempts == 1 and j.status is JobStatus.doing for j in rows)


class TestLock:
    async def test_one_running_job_per_lock_in_order(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        first = await add_job(sessionmaker, "demo.run", lock="post:1", now=clock())
        clock.advance(1)
        second = await add_job(sessionmaker, "demo.run", lock="post:1", now=clock())
        other = await add_job(sessionmaker, "demo.run", lock="post:2", now=clock())

        jobs = await claim(sessionmaker, clock)
        assert {j.id for j in jobs} == {first, other}
        assert await claim(sessionmaker, clock) == []

        assert await finish(sessionmaker, clock, next(j for j in jobs if j.id == first))
        assert [j.id for j in await claim(sessionmaker, clock)] == [second]

    async def test_concurrent_claimers_never_run_two_jobs_of_a_lock(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        for n in range(24):
            await add_job(sessionmaker, "demo.run", lock=f"post:{n % 4}", now=clock())

        async def claimer(owner: str) -> list[ClaimedJob]:
            try:
                return await claim(sessionmaker, clock, owner=owner, limit=5)
            except IntegrityError as exc:  # the unique index may stop a racing claimer
                if "uq_jobs_lock_doing" not in str(exc):
                    raise
                return []

        await asyncio.gather(*(claimer(f"w{n}") for n in range(6)))

        running = [j for j in await all_jobs(sessionmaker) if j.status is JobStatus.doing]
        assert sorted(str(j.lock) for j in running) == ["post:0", "post:1", "post:2", "post:3"]

    async def test_an_expired_holder_of_the_lock_is_reclaimed_first(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        stuck = await add_job(sessionmaker, "demo.run", lock="post:1", now=clock())
        await claim(sessionmaker, clock, owner="dead")
        await add_job(sessionmaker, "demo.run", lock="post:1", priority=9, now=clock())

        clock.advance(61)
        [job] = await claim(sessionmaker, clock, owner="w2")

        assert (job.id, job.attempts, job.lease_owner) == (stuck, 2, "w2")


class TestExpiry:
    async def test_a_live_lease_is_not_taken(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        await add_job(sessionmaker, "demo.run", now=clock())
        await claim(sessionmaker, clock, owner="w1", lease_seconds=60)
        clock.advance(59)
        assert await claim(sessionmaker, clock, owner="w2") == []

    async def test_an_expired_lease_is_reclaimed_with_attempts_incremented(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        job_id = await add_job(sessionmaker, "demo.run", now=clock())
        [old] = await claim(sessionmaker, clock, owner="w1", lease_seconds=60)

        clock.advance(60)
        [new] = await claim(sessionmaker, clock, owner="w2", lease_seconds=60)

        assert new.id == job_id
        assert new.lease_owner == "w2"
        assert (new.attempts, new.lease_generation) == (old.attempts + 1, old.lease_generation + 1)
        async with sessionmaker() as session, session.begin():
            # Every write of the old holder is now refused.
            assert await lease.complete(session, old, now=clock()) is False
            assert await lease.renew(session, old, now=clock(), lease_seconds=60) is None
        assert (await get_job(sessionmaker, job_id)).status is JobStatus.doing


class TestRenew:
    async def test_extends_a_live_lease(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        job_id = await add_job(sessionmaker, "demo.run", now=clock())
        [job] = await claim(sessionmaker, clock, lease_seconds=60)
        clock.advance(50)
        async with sessionmaker() as session, session.begin():
            expires = await lease.renew(session, job, now=clock(), lease_seconds=60)
        assert expires == clock() + dt.timedelta(seconds=60)
        row = await get_job(sessionmaker, job_id)
        assert (row.lease_expires_at, row.heartbeat_at) == (expires, clock())

        clock.advance(59)
        assert await claim(sessionmaker, clock, owner="w2") == []

    async def test_an_expired_lease_cannot_be_renewed(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        await add_job(sessionmaker, "demo.run", now=clock())
        [job] = await claim(sessionmaker, clock, lease_seconds=60)
        clock.advance(60)
        async with sessionmaker() as session, session.begin():
            assert await lease.renew(session, job, now=clock(), lease_seconds=60) is None


class TestRequeue:
    async def test_release_gives_the_attempt_back(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        job_id = await add_job(sessionmaker, "demo.run", now=clock())
        [job] = await claim(sessionmaker, clock)
        async with sessionmaker() as session, session.begin():
            assert await lease.requeue(
                session, job, now=clock(), run_at=job.run_at, error=None, count_attempt=False
            )
        row = await get_job(sessionmaker, job_id)
        assert (row.status, row.attempts, row.lease_owner) == (JobStatus.todo, 0, None)
        assert row.lease_expires_at is None

    async def test_a_queued_duplicate_supersedes_the_retry(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        job_id = await add_job(sessionmaker, "demo.run", queueing_lock="refresh", now=clock())
        [job] = await claim(sessionmaker, clock)
        duplicate = await add_job(sessionmaker, "demo.run", queueing_lock="refresh", now=clock())

        async with sessionmaker() as session, session.begin():
            assert await lease.requeue(
                session, job, now=clock(), run_at=clock(), error="boom", count_attempt=True
            )

        row = await get_job(sessionmaker, job_id)
        assert row.status is JobStatus.cancelled
        assert row.last_error is not None
        assert "superseded" in row.last_error
        assert (await get_job(sessionmaker, duplicate)).status is JobStatus.todo


class TestNextDue:
    async def test_is_the_earliest_run_at_or_lease_expiry(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        async with sessionmaker() as session:
            assert await lease.next_due(session, {"demo.run"}, now=clock()) is None
        await add_job(sessionmaker, "demo.run", now=clock())
        await claim(sessionmaker, clock, lease_seconds=30)
        later = clock() + dt.timedelta(minutes=5)
        await add_job(sessionmaker, "demo.run", run_at=later, now=clock())
        await add_job(sessionmaker, "other.kind", now=clock())

        async with sessionmaker() as session:
            due = await lease.next_due(session, {"demo.run"}, now=clock())
        assert due == clock() + dt.timedelta(seconds=30)


class TestClaimStatement:
    """The claim is built once per set of kinds; now and limit must still be each claim's."""

    async def test_each_claim_uses_its_own_now_and_limit(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        first = await add_job(sessionmaker, "demo.run", now=clock())
        second = await add_job(sessionmaker, "demo.run", now=clock())
        later = await add_job(
            sessionmaker, "demo.run", run_at=clock() + dt.timedelta(seconds=10), now=clock()
        )

        [one] = await claim(sessionmaker, clock, limit=1)
        assert one.id in {first, second}
        assert one.lease_expires_at == clock() + dt.timedelta(seconds=60)
        clock.advance(10)
        taken = await claim(sessionmaker, clock, limit=5)

        assert {j.id for j in taken} == {first, second, later} - {one.id}
        assert {j.lease_expires_at for j in taken} == {clock() + dt.timedelta(seconds=60)}
        row = await get_job(sessionmaker, later)
        assert (row.heartbeat_at, row.updated_at) == (clock(), clock())

    async def test_lease_lengths_by_kind_apply_to_later_claims_too(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        for _ in range(2):
            for kind in ("demo.run", "demo.long"):
                await add_job(sessionmaker, kind, now=clock())
            async with sessionmaker() as session, session.begin():
                jobs = await lease.claim(
                    session,
                    owner="w1",
                    kinds={"demo.run", "demo.long"},
                    limit=10,
                    now=clock(),
                    lease_seconds=60,
                    lease_seconds_by_kind={"demo.long": 600},
                )
            assert {(j.kind, j.lease_expires_at) for j in jobs} == {
                ("demo.run", clock() + dt.timedelta(seconds=60)),
                ("demo.long", clock() + dt.timedelta(seconds=600)),
            }
            clock.advance(5)


class TestRenewAll:
    async def test_renews_the_live_leases_and_reports_the_lost(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        await add_job(sessionmaker, "demo.run", now=clock())
        [old] = await claim(sessionmaker, clock, owner="w1", lease_seconds=60)
        clock.advance(30)
        await add_job(sessionmaker, "demo.run", now=clock())
        [live] = await claim(sessionmaker, clock, owner="w1", lease_seconds=60)
        clock.advance(31)  # the first lease expired; another worker takes that job over
        [taken] = await claim(sessionmaker, clock, owner="w2", lease_seconds=60)
        assert taken.id == old.id

        async with sessionmaker() as session, session.begin():
            renewed = await lease.renew_all(session, [old, live], now=clock(), lease_seconds=60)

        assert renewed == {old.id: None, live.id: clock() + dt.timedelta(seconds=60)}
        assert (await get_job(sessionmaker, old.id)).lease_owner == "w2"
        assert (await get_job(sessionmaker, live.id)).heartbeat_at == clock()
