"""Workers record themselves in worker_processes: at start, every beat, gone at stop; one
that died stops counting a minute after its last beat."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.worker.helpers import FakeClock, MakeWorker
from zakipost.models import WorkerProcess
from zakipost.worker import liveness


async def rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[WorkerProcess]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(WorkerProcess))).all())


async def live(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> list[str]:
    async with sessionmaker() as session:
        return [w.id for w in await liveness.live_workers(session, now=now)]


class TestPresence:
    async def test_a_started_worker_is_recorded_with_what_it_serves_and_gone_when_stopped(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: FakeClock,
        make_worker: MakeWorker,
    ) -> None:
        serves = {"tiktok": "the TikTok sandbox at http://sandbox:9000", "concurrency": 3}
        worker = make_worker(worker_id="w-1", concurrency=3, serves=serves)
        await worker.start()
        [row] = await rows(sessionmaker)
        assert (row.id, row.concurrency, row.serves) == ("w-1", 3, serves)
        assert row.started_at == row.last_seen_at == clock()
        assert row.pid > 0 and row.host

        clock.advance(15)
        await worker.beat()
        [row] = await rows(sessionmaker)
        assert row.last_seen_at == clock()
        assert row.started_at == clock() - dt.timedelta(seconds=15)

        await worker.stop(grace_seconds=0)
        assert await rows(sessionmaker) == []

    async def test_a_worker_that_died_counts_for_a_minute_after_its_last_beat(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        presence = liveness.Presence(worker_id="dead", concurrency=2)
        async with sessionmaker() as session, session.begin():
            await liveness.register(session, presence, now=clock())
        assert await live(sessionmaker, clock() + dt.timedelta(seconds=60)) == ["dead"]
        assert await live(sessionmaker, clock() + dt.timedelta(seconds=61)) == []
        # Its row stays for operators (zakipost jobs workers) until a day has passed.
        assert [r.id for r in await rows(sessionmaker)] == ["dead"]

    async def test_a_beat_records_a_row_someone_deleted_and_old_rows_are_forgotten(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> None:
        old = liveness.Presence(worker_id="old", concurrency=1)
        mine = liveness.Presence(worker_id="mine", concurrency=1)
        async with sessionmaker() as session, session.begin():
            await liveness.register(session, old, now=clock())
        clock.advance(hours=25)
        async with sessionmaker() as session, session.begin():
            await liveness.beat(session, mine, now=clock())
        assert [r.id for r in await rows(sessionmaker)] == ["mine"]
        assert await live(sessionmaker, clock()) == ["mine"]
