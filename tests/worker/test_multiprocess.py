"""Three worker processes share one PostgreSQL; one is killed, one stalls past its lease.

Every job must end succeeded, and every side effect must happen exactly once: the
killed worker's jobs are taken over when their leases expire, and the stalled worker,
once it wakes, is refused by the fence instead of writing a second time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.worker import mp_worker
from tests.worker.helpers import add_job
from zakipost.models.job import Job, JobStatus
from zakipost.worker import enqueue

REPO = Path(__file__).resolve().parents[2]
JOBS = 100
# Guards against a hung run, not assertions about speed.
GUARD = 45


class Workers:
    def __init__(self, url: str, logs: Path) -> None:
        self.url, self.logs = url, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, worker_id: str) -> None:
        log = (self.logs / f"{worker_id}.log").open("wb")
        self.procs[worker_id] = subprocess.Popen(
            [sys.executable, "-m", "tests.worker.mp_worker", self.url, worker_id],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()

    def output(self, worker_id: str) -> str:
        return (self.logs / f"{worker_id}.log").read_text(errors="replace")

    def signal(self, worker_id: str, sig: signal.Signals) -> None:
        self.procs[worker_id].send_signal(sig)

    def cleanup(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()


@pytest.fixture
async def effects_table(engine: AsyncEngine, dialect: str) -> AsyncIterator[None]:
    if dialect != "postgresql":
        pytest.skip("worker processes on several machines need PostgreSQL; SQLite runs one process")
    async with engine.begin() as conn:
        await conn.run_sync(mp_worker.EFFECTS.drop, checkfirst=True)
        await conn.run_sync(mp_worker.EFFECTS.create)
    yield
    async with engine.begin() as conn:
        await conn.run_sync(mp_worker.EFFECTS.drop)


@pytest.fixture
def workers(engine: AsyncEngine, tmp_path: Path, effects_table: None) -> Iterator[Workers]:
    # Depends on effects_table so the processes are gone before the table is dropped
    # (a frozen one would hold its locks, and the DROP would wait for ever).
    pool = Workers(engine.url.render_as_string(hide_password=False), tmp_path)
    yield pool
    pool.cleanup()


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Re-run ``check`` until it returns true (guarded against hanging)."""
    try:
        async with asyncio.timeout(GUARD):
            # Polls: what it waits for happens in other processes.
            while not await check():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"gave up waiting: {what}")


async def holder(sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> Job:
    async with sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def count_status(sessionmaker: async_sessionmaker[AsyncSession], status: JobStatus) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).where(Job.status == status)) or 0)


async def test_killed_and_stalled_workers_lose_no_job_and_repeat_no_effect(
    sessionmaker: async_sessionmaker[AsyncSession], workers: Workers
) -> None:
    kind = mp_worker.KIND
    # 1. A job that hangs on its first attempt; whoever takes it is killed with SIGKILL.
    killed_job = await add_job(sessionmaker, kind, {"n": -1, "stall": True}, priority=10)
    for worker_id in ("mp-0", "mp-1", "mp-2"):
        workers.spawn(worker_id)

    async def stalling(job_id: uuid.UUID) -> bool:
        # The handler prints this once it has looked at the state and started to hang.
        return any(f"STALLING {job_id}" in workers.output(w) for w in workers.procs)

    def stalled_in(job_id: uuid.UUID) -> str:
        [worker_id] = [w for w in workers.procs if f"STALLING {job_id}" in workers.output(w)]
        return worker_id

    await eventually(lambda: stalling(killed_job), "the first hanging job to start")
    victim = stalled_in(killed_job)
    workers.signal(victim, signal.SIGKILL)
    assert await asyncio.to_thread(workers.procs[victim].wait, GUARD) == -signal.SIGKILL

    # 2. A second hanging job ahead of the bulk; whoever takes it is frozen (SIGSTOP), with
    # whatever else it holds, until another worker has taken that job over and finished it.
    async with sessionmaker() as session, session.begin():
        stalled_job = await enqueue(session, kind, {"n": -2, "stall": True}, priority=10)
        bulk = [await enqueue(session, kind, {"n": n}) for n in range(JOBS)]
    assert stalled_job is not None
    await eventually(lambda: stalling(stalled_job), "the second hanging job to start")
    sleeper = stalled_in(stalled_job)
    assert sleeper != victim
    workers.signal(sleeper, signal.SIGSTOP)

    async def finished(job_id: uuid.UUID) -> bool:
        return (await holder(sessionmaker, job_id)).status is JobStatus.succeeded

    await eventually(lambda: finished(stalled_job), "the frozen worker's job to be taken over")
    workers.signal(sleeper, signal.SIGCONT)

    # 3. Everything finishes, and the woken worker's attempt at the taken-over job ends.
    async def all_succeeded() -> bool:
        return await count_status(sessionmaker, JobStatus.succeeded) == JOBS + 2

    await eventually(all_succeeded, "every job to succeed")
    await eventually(
        lambda: _async(f"OUTCOME {stalled_job} lease_lost" in workers.output(sleeper)),
        "the woken worker to give up the job it lost",
    )
    survivors = [w for w in workers.procs if w != victim]
    for worker_id in survivors:
        workers.signal(worker_id, signal.SIGTERM)
    for worker_id in survivors:
        exit_code = await asyncio.to_thread(workers.procs[worker_id].wait, GUARD)
        assert exit_code == 0, workers.output(worker_id)

    async with sessionmaker() as session:
        effects = (
            await session.execute(select(mp_worker.EFFECTS.c.job_id, mp_worker.EFFECTS.c.worker))
        ).all()
        jobs = {job.id: job for job in (await session.scalars(select(Job))).all()}
    per_job: dict[uuid.UUID, list[str]] = {}
    for job_id, worker_id in effects:
        per_job.setdefault(job_id, []).append(worker_id)

    assert set(per_job) == {killed_job, stalled_job, *bulk}
    assert {job_id: ws for job_id, ws in per_job.items() if len(ws) != 1} == {}
    assert all(job.status is JobStatus.succeeded for job in jobs.values())
    # The hung jobs were finished by someone else, on a later attempt.
    assert per_job[killed_job] != [victim]
    assert jobs[killed_job].attempts >= 2
    assert per_job[stalled_job] != [sleeper]
    assert jobs[stalled_job].attempts >= 2
    assert jobs[stalled_job].result == {"worker": per_job[stalled_job][0], "n": "-2"}
    # It was the fence that refused the woken worker's write.
    assert f"LEASE_LOST {stalled_job}" in workers.output(sleeper)


async def _async(value: bool) -> bool:
    return value
