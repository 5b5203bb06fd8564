from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.maintenance.tasks import PRUNE_TASK
from zakipost.models import RateBudgetUse
from zakipost.worker import Worker, enqueue


async def test_prune_deletes_stale_budget_rows_only(
    worker: Worker, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    now = dt.datetime.now(dt.UTC)
    async with sessionmaker() as session, session.begin():
        session.add(RateBudgetUse(bucket="login:a", at=now - dt.timedelta(days=2)))
        session.add(RateBudgetUse(bucket="login:a", at=now - dt.timedelta(minutes=1)))
        await enqueue(session, PRUNE_TASK, {})
    await worker.run_until_idle()
    async with sessionmaker() as session:
        left = await session.scalar(select(func.count()).select_from(RateBudgetUse))
    assert left == 1
