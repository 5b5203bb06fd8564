"""A worker process for test_multiprocess: ``python -m tests.worker.mp_worker URL WORKER_ID``.

Its one task records a side effect (a row in ``worker_mp_effects``, which has no unique
constraint) the way a stalled holder is dangerous: it looks at the state first, works,
then writes based on what it saw. Between the look and the write another worker may
have taken the job over and written already; only the fence stops the stale write.
(Application handlers should also re-check inside the fenced transaction; this one
deliberately does not, so that the test checks the fence and nothing else.)
"""

from __future__ import annotations

import asyncio
import random
import sys

from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.db.engine import create_engine, create_sessionmaker
from zakipost.models.job import Job
from zakipost.worker import (
    ClaimedJob,
    JobContext,
    LeaseLost,
    Outcome,
    RetryStrategy,
    TaskRegistry,
    Worker,
)

# Not in the application's metadata: the test creates and drops it.
EFFECTS = Table(
    "worker_mp_effects",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Uuid, nullable=False),
    Column("worker", String(100), nullable=False),
)
KIND = "mp.record"
LEASE_SECONDS = 1.5
STALL_CAP_SECONDS = 60

registry = TaskRegistry()
_sessionmaker: async_sessionmaker[AsyncSession] | None = None


async def _taken_over(ctx: JobContext) -> bool:
    assert _sessionmaker is not None
    async with _sessionmaker() as session:
        generation = await session.scalar(select(Job.lease_generation).where(Job.id == ctx.job.id))
    return generation != ctx.job.lease_generation


async def _effects(job_id: object) -> int:
    assert _sessionmaker is not None
    async with _sessionmaker() as session:
        query = select(func.count()).select_from(EFFECTS).where(EFFECTS.c.job_id == job_id)
        return int(await session.scalar(query) or 0)


@registry.task(KIND, retry=RetryStrategy(max_attempts=10, base_delay=0.05, max_delay=0.5))
async def record(ctx: JobContext, *, n: int, stall: bool = False) -> dict[str, str]:
    # 1. Look: a previous attempt may have done the step already.
    if await _effects(ctx.job.id):
        return {"worker": ctx.worker_id, "n": str(n), "skipped": "yes"}
    # 2. Work. A stalling job hangs on its first attempt (the test kills or freezes this
    # process now); once awake, it carries on as a stalled worker would.
    if stall and ctx.attempt == 1:
        _say(f"STALLING {ctx.job.id}")  # the test acts on this line
        loop = asyncio.get_running_loop()
        give_up = loop.time() + STALL_CAP_SECONDS
        # Polls the database: the takeover happens in another process.
        while loop.time() < give_up and not await _taken_over(ctx):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    else:
        await asyncio.sleep(random.uniform(0.002, 0.02))
    # 3. Write what step 1 decided, fenced.
    try:
        async with ctx.fenced() as session:
            await session.execute(insert(EFFECTS).values(job_id=ctx.job.id, worker=ctx.worker_id))
    except LeaseLost:
        _say(f"LEASE_LOST {ctx.job.id}")
        raise
    return {"worker": ctx.worker_id, "n": str(n)}


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _report(job: ClaimedJob, outcome: Outcome) -> None:
    _say(f"OUTCOME {job.id} {outcome}")


async def main(url: str, worker_id: str) -> None:
    global _sessionmaker
    engine = create_engine(url, pool_size=4)
    _sessionmaker = create_sessionmaker(engine)
    worker = Worker(
        _sessionmaker,
        registry,
        concurrency=4,
        lease_seconds=LEASE_SECONDS,
        poll_interval=0.2,
        worker_id=worker_id,
        grace_seconds=5,
        on_outcome=_report,
    )
    try:
        await worker.run_forever()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
