from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.worker.helpers import FakeClock, MakeWorker, Outcomes, add_job, all_jobs
from zakipost.models.job import JobStatus
from zakipost.worker import JobContext, Outcome, Periodic, TaskRegistry, Worker, runner

HOUR = dt.timedelta(hours=1)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


class TestNextAt:
    def test_is_the_next_multiple_of_every(self) -> None:
        periodic = Periodic("demo.tick", every=HOUR)
        assert periodic.next_at(at("2026-03-01T10:30:00")) == at("2026-03-01T11:00:00")

    def test_is_strictly_after_now(self) -> None:
        periodic = Periodic("demo.tick", every=HOUR)
        assert periodic.next_at(at("2026-03-01T11:00:00")) == at("2026-03-01T12:00:00")

    def test_works_for_odd_intervals(self) -> None:
        periodic = Periodic("demo.tick", every=dt.timedelta(seconds=7))
        now = at("2026-03-01T11:00:00")
        slot = periodic.next_at(now)
        assert now < slot <= now + dt.timedelta(seconds=7)
        assert (slot - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds() % 7 == 0

    def test_refuses_sub_second_intervals(self) -> None:
        with pytest.raises(ValueError, match="once a second"):
            Periodic("demo.tick", every=dt.timedelta(milliseconds=10))


@pytest.fixture
def ticks(registry: TaskRegistry) -> list[str]:
    seen: list[str] = []

    @registry.task("demo.tick")
    async def tick(ctx: JobContext, *, label: str) -> None:
        seen.append(label)

    registry.periodic("demo.tick", every=HOUR, payload={"label": "hourly"})
    return seen


class TestSchedulePeriodic:
    async def test_queues_the_next_occurrence(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        ticks: list[str],
    ) -> None:
        clock.advance(minutes=30)
        created = await Worker(sessionmaker, registry, clock=clock).schedule_periodic()

        [job] = await all_jobs(sessionmaker)
        assert created == [job.id]
        assert (job.kind, job.payload, job.status) == (
            "demo.tick",
            {"label": "hourly"},
            JobStatus.todo,
        )
        assert (job.run_at, job.queueing_lock) == (
            clock() + dt.timedelta(minutes=30),
            "periodic:demo.tick",
        )

    async def test_many_workers_schedule_one_occurrence(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        ticks: list[str],
    ) -> None:
        workers = [Worker(sessionmaker, registry, clock=clock, worker_id=f"w{n}") for n in range(6)]

        for _ in range(3):
            await asyncio.gather(*(w.schedule_periodic() for w in workers))

        assert len(await all_jobs(sessionmaker)) == 1

    async def test_after_a_run_the_next_slot_is_queued_once(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        ticks: list[str],
    ) -> None:
        first, second = (Worker(sessionmaker, registry, clock=clock, worker_id=w) for w in "ab")
        await first.schedule_periodic()
        clock.advance(hours=1)
        assert await second.run_until_idle() == 1

        await asyncio.gather(first.schedule_periodic(), second.schedule_periodic())

        jobs = await all_jobs(sessionmaker)
        assert [j.status for j in jobs] == [JobStatus.succeeded, JobStatus.todo]
        assert jobs[1].run_at - jobs[0].run_at == HOUR
        assert ticks == ["hourly"]

    async def test_a_worker_whose_clock_lags_does_not_queue_a_slot_again(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        ticks: list[str],
    ) -> None:
        await Worker(sessionmaker, registry, clock=clock).schedule_periodic()
        clock.advance(hours=1)
        await Worker(sessionmaker, registry, clock=clock).run_until_idle()

        def lagging() -> dt.datetime:
            return clock() - dt.timedelta(seconds=2)

        assert await Worker(sessionmaker, registry, clock=lagging).schedule_periodic() == []
        assert [j.status for j in await all_jobs(sessionmaker)] == [JobStatus.succeeded]

    async def test_a_started_worker_schedules_before_it_waits(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        ticks: list[str],
    ) -> None:
        worker = Worker(sessionmaker, registry, clock=clock, poll_interval=3600)
        await worker.start()
        try:
            async with asyncio.timeout(20):
                await worker.waiting.wait()
        finally:
            await worker.stop()

        [job] = await all_jobs(sessionmaker)
        assert job.queueing_lock == "periodic:demo.tick"
        assert job.status is JobStatus.todo

    async def test_a_started_worker_looks_only_when_a_slot_comes_and_queues_it_once(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        ticks: list[str],
        outcomes: Outcomes,
        make_worker: MakeWorker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        @registry.task("demo.other")
        async def other(ctx: JobContext) -> None:
            pass

        looks: list[dt.datetime] = []
        ensure = runner.ensure_scheduled

        async def counted(
            session: AsyncSession, periodics: list[Periodic], *, now: dt.datetime
        ) -> list[uuid.UUID]:
            looks.append(now)
            return await ensure(session, periodics, now=now)

        monkeypatch.setattr(runner, "ensure_scheduled", counted)
        start = clock()
        worker = make_worker()
        await worker.start()
        for _ in range(3):  # cycles of the loop that no slot can be due in
            assert await outcomes.wait_for(await add_job(sessionmaker, "demo.other", now=clock()))
        assert looks == [start]
        [tick] = [j for j in await all_jobs(sessionmaker) if j.kind == "demo.tick"]
        assert tick.run_at == start + HOUR

        clock.advance(hours=1)  # the slot comes; any wake-up (here a job) starts a cycle
        await add_job(sessionmaker, "demo.other", now=clock())
        assert await outcomes.wait_for(tick.id) == [Outcome.succeeded]
        await worker.stop()  # the loop's last cycle looks again after the periodic's run

        # At start, then only at the slot: when it comes (the occurrence still queued holds
        # the next one up) and after the occurrence's run, which queues the next one. Once
        # if the run came first (a claim already under way when the clock moved took it).
        assert looks[0] == start
        assert looks[1:] in ([start + HOUR], [start + HOUR, start + HOUR])
        jobs = [j for j in await all_jobs(sessionmaker) if j.kind == "demo.tick"]
        assert [(j.status, j.run_at) for j in jobs] == [
            (JobStatus.succeeded, start + HOUR),
            (JobStatus.todo, start + 2 * HOUR),
        ]
        assert ticks == ["hourly"]
