"""The periodic refresh: near-expiry connections get one refresh job each, which refreshes."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.connection.tasks import REFRESH_TASK, SWEEP_TASK
from zakipost.models import Connection, Job
from zakipost.worker import Worker, enqueue


async def test_sweep_queues_one_refresh_per_expiring_connection_and_it_refreshes(
    connected: uuid.UUID, worker: Worker, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Connection).values(access_expires_at=soon))
        before = (await session.scalars(select(Connection))).one().token_generation
        await enqueue(session, SWEEP_TASK, {})
        await enqueue(session, SWEEP_TASK, {})
    await worker.run_until_idle()

    async with sessionmaker() as session:
        refreshes = await session.scalar(select(func.count()).where(Job.kind == REFRESH_TASK))
        row = (await session.scalars(select(Connection))).one()
    assert refreshes == 1
    assert row.token_generation == before + 1
    assert row.access_expires_at > soon + dt.timedelta(hours=20)


async def test_fresh_connections_are_left_alone(
    connected: uuid.UUID, worker: Worker, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session, session.begin():
        await enqueue(session, SWEEP_TASK, {})
    await worker.run_until_idle()
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).where(Job.kind == REFRESH_TASK)) == 0
