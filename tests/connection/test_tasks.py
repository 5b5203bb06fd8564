"""Refresh jobs: each grant queues one job for its planned time; the job refreshes only when
that plan is due; the sweep only re-queues a plan that passed without a job."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.timing import SandboxLine, SimulatedTime
from zakipost.connection.refresh_plan import plan_refresh
from zakipost.connection.tasks import REFRESH_TASK, SWEEP_TASK
from zakipost.models import Connection, Job, JobStatus
from zakipost.worker import Worker, enqueue


async def _row(sessionmaker: async_sessionmaker[AsyncSession]) -> Connection:
    async with sessionmaker() as session:
        return (await session.scalars(select(Connection))).one()


async def _refresh_jobs(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Job]:
    async with sessionmaker() as session:
        jobs = await session.scalars(
            select(Job).where(Job.kind == REFRESH_TASK).order_by(Job.created_at)
        )
        return list(jobs.all())


def test_the_plan_is_half_to_three_quarters_of_the_lifetime_and_seeded() -> None:
    issued = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    lifetime = dt.timedelta(hours=2)
    ids = [uuid.UUID(int=n) for n in range(50)]
    plans = [plan_refresh(i, 1, issued, lifetime) for i in ids]
    assert all(issued + lifetime / 2 <= p <= issued + lifetime * 3 / 4 for p in plans)
    assert len(set(plans)) == 50  # spread out, not all at once
    assert plans == [plan_refresh(i, 1, issued, lifetime) for i in ids]
    assert plan_refresh(ids[0], 2, issued, lifetime) != plans[0]


async def test_a_grant_queues_one_refresh_job_at_its_planned_time(
    todays_tiktok,
    connected: uuid.UUID,
    timed_worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    row = await _row(sessionmaker)
    assert row.access_expires_in == 7200
    assert row.refresh_planned_at is not None and row.last_refreshed_at is not None
    share = (row.refresh_planned_at - row.last_refreshed_at) / dt.timedelta(seconds=7200)
    assert 0.5 <= share <= 0.75
    [job] = await _refresh_jobs(sessionmaker)
    assert job.run_at == row.refresh_planned_at
    assert job.status is JobStatus.todo

    await timed_worker.run_until_idle()  # nothing is due yet
    assert (await _row(sessionmaker)).token_generation == row.token_generation


async def test_the_job_refreshes_when_due_and_queues_the_next_plan(
    todays_tiktok,
    connected: uuid.UUID,
    timed_worker: Worker,
    sim_time: SimulatedTime,
    line: SandboxLine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    before = await _row(sessionmaker)
    assert before.refresh_planned_at is not None
    sim_time.advance_to(before.refresh_planned_at)
    await timed_worker.run_until_idle()

    after = await _row(sessionmaker)
    assert after.token_generation == before.token_generation + 1
    assert len(line.accepted()) == 1
    assert after.refresh_planned_at is not None
    assert after.refresh_planned_at > sim_time.now() + dt.timedelta(minutes=59)
    done, queued = await _refresh_jobs(sessionmaker)
    assert done.status is JobStatus.succeeded and done.result == "refreshed"
    assert queued.status is JobStatus.todo and queued.run_at == after.refresh_planned_at


async def test_a_job_woken_before_the_plan_does_not_refresh(
    todays_tiktok,
    connected: uuid.UUID,
    timed_worker: Worker,
    line: SandboxLine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    before = await _row(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await enqueue(session, REFRESH_TASK, {"connection_id": str(before.id)})
    await timed_worker.run_until_idle()

    assert (await _row(sessionmaker)).token_generation == before.token_generation
    assert line.refreshes == []
    planned, early = await _refresh_jobs(sessionmaker)
    assert early.result == "not_due"
    assert planned.status is JobStatus.todo and planned.run_at == before.refresh_planned_at


async def test_a_worker_whose_clock_runs_ahead_refreshes_once_not_in_a_loop(
    todays_tiktok,
    connected: uuid.UUID,
    timed_deps,
    sim_time: SimulatedTime,
    line: SandboxLine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # The vault (and the sandbox) on simulated time; the worker a day ahead of them.
    from tests.fixtures.clock import OffsetClock
    from zakipost.runtime import build_worker

    before = await _row(sessionmaker)
    assert before.refresh_planned_at is not None
    sim_time.advance_to(before.refresh_planned_at)
    ahead = OffsetClock()
    ahead.offset = sim_time.clock.offset + dt.timedelta(days=1)
    timed_deps.clock = ahead
    ran = await build_worker(timed_deps).run_until_idle(max_jobs=50)

    assert len(line.accepted()) == 1
    assert (await _row(sessionmaker)).token_generation == before.token_generation + 1
    assert ran < 10


async def test_the_sweep_requeues_a_plan_that_passed_without_a_job_and_nothing_early(
    todays_tiktok,
    connected: uuid.UUID,
    timed_worker: Worker,
    sim_time: SimulatedTime,
    line: SandboxLine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    before = await _row(sessionmaker)
    assert before.refresh_planned_at is not None
    async with sessionmaker() as session, session.begin():
        # The queued job is gone (say, failed out of its attempts while TikTok was down).
        await session.execute(update(Job).values(status=JobStatus.failed))
        await enqueue(session, SWEEP_TASK, {}, now=sim_time.now())
    await timed_worker.run_until_idle()
    assert line.refreshes == []  # the plan is not due: the sweep leaves it alone
    assert [j for j in await _refresh_jobs(sessionmaker) if j.status is JobStatus.todo] == []

    sim_time.advance_to(before.refresh_planned_at + dt.timedelta(minutes=5))
    async with sessionmaker() as session, session.begin():
        await enqueue(session, SWEEP_TASK, {}, now=sim_time.now())
        await enqueue(session, SWEEP_TASK, {}, now=sim_time.now())
    await timed_worker.run_until_idle()

    after = await _row(sessionmaker)
    assert after.token_generation == before.token_generation + 1
    assert len(line.accepted()) == 1
