"""Fencing: every write of a job goes through ctx.fenced(), which lands only while the
writer still holds a live lease."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.worker.helpers import FakeClock, add_job, claim
from zakipost.models.account import Account
from zakipost.worker import ClaimedJob, JobContext, LeaseLost, lease


class TestFencing:
    @pytest.fixture
    async def account_id(self, sessionmaker: async_sessionmaker[AsyncSession]) -> uuid.UUID:
        async with sessionmaker() as session, session.begin():
            account = Account(
                email="fence@example.com",
                password_hash="x",
                client_key="fence",
                client_secret_hash="x",
                client_secret_encrypted="x",
            )
            session.add(account)
        return account.id

    def context(
        self, job: ClaimedJob, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
    ) -> JobContext:
        return JobContext(job, sessionmaker=sessionmaker, clock=clock, worker_id=job.lease_owner)

    async def set_plan(self, ctx: JobContext, account_id: uuid.UUID, plan: str) -> None:
        async with ctx.fenced() as session:
            await session.execute(update(Account).where(Account.id == account_id).values(plan=plan))

    async def plan(
        self, sessionmaker: async_sessionmaker[AsyncSession], account_id: uuid.UUID
    ) -> str:
        async with sessionmaker() as session:
            return (
                await session.scalars(select(Account.plan).where(Account.id == account_id))
            ).one()

    async def test_the_holders_write_lands(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: FakeClock,
        account_id: uuid.UUID,
    ) -> None:
        await add_job(sessionmaker, "demo.run", now=clock())
        [job] = await claim(sessionmaker, clock)
        await self.set_plan(self.context(job, sessionmaker, clock), account_id, "pro")
        assert await self.plan(sessionmaker, account_id) == "pro"

    async def test_the_old_holder_raises_lease_lost_and_its_write_does_not_land(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: FakeClock,
        account_id: uuid.UUID,
    ) -> None:
        await add_job(sessionmaker, "demo.run", now=clock())
        [old] = await claim(sessionmaker, clock, owner="w1")
        old_ctx = self.context(old, sessionmaker, clock)
        clock.advance(61)
        [new] = await claim(sessionmaker, clock, owner="w2")
        await self.set_plan(self.context(new, sessionmaker, clock), account_id, "newer")

        with pytest.raises(LeaseLost):
            await self.set_plan(old_ctx, account_id, "stale")

        assert await self.plan(sessionmaker, account_id) == "newer"
        assert old_ctx.lease_lost

    async def test_the_same_worker_reclaiming_its_own_job_fences_its_old_attempt(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: FakeClock,
        account_id: uuid.UUID,
    ) -> None:
        await add_job(sessionmaker, "demo.run", now=clock())
        [old] = await claim(sessionmaker, clock, owner="w1")
        clock.advance(61)
        [new] = await claim(sessionmaker, clock, owner="w1")  # same owner, new generation

        with pytest.raises(LeaseLost):
            await self.set_plan(self.context(old, sessionmaker, clock), account_id, "stale")
        await self.set_plan(self.context(new, sessionmaker, clock), account_id, "newer")
        assert await self.plan(sessionmaker, account_id) == "newer"

    async def test_an_expired_lease_is_lost_even_before_anyone_reclaims_it(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: FakeClock,
        account_id: uuid.UUID,
    ) -> None:
        await add_job(sessionmaker, "demo.run", now=clock())
        [job] = await claim(sessionmaker, clock, lease_seconds=60)
        clock.advance(60)
        with pytest.raises(LeaseLost):
            await self.set_plan(self.context(job, sessionmaker, clock), account_id, "stale")
        assert await self.plan(sessionmaker, account_id) == "free"

    async def test_no_takeover_while_a_fenced_transaction_is_open(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: FakeClock,
        account_id: uuid.UUID,
        dialect: str,
    ) -> None:
        await add_job(sessionmaker, "demo.run", now=clock())
        [job] = await claim(sessionmaker, clock, owner="w1")
        ctx = self.context(job, sessionmaker, clock)

        async with ctx.fenced() as session:
            clock.advance(61)  # the lease expires while the holder is mid-write
            takeover = asyncio.create_task(claim(sessionmaker, clock, owner="w2"))
            if dialect == "postgresql":
                # The row is locked: the claimer skips it instead of waiting.
                assert await takeover == []
            await session.execute(
                update(Account).where(Account.id == account_id).values(plan="in-time")
            )

        if dialect == "sqlite":
            # The claimer waited for the write lock and took the job after the commit.
            assert [j.id for j in await takeover] == [job.id]
        assert await self.plan(sessionmaker, account_id) == "in-time"

    async def test_the_heartbeat_does_not_wait_for_a_fenced_transaction(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: FakeClock,
        dialect: str,
    ) -> None:
        if dialect != "postgresql":
            pytest.skip("SQLite has one writer at a time: a heartbeat waits for any write")
        await add_job(sessionmaker, "demo.run", now=clock())
        [job] = await claim(sessionmaker, clock, lease_seconds=60)
        ctx = self.context(job, sessionmaker, clock)

        async with ctx.fenced():
            clock.advance(30)
            async with sessionmaker() as session, session.begin():
                # Not blocked by the row lock: the expiry comes back unchanged.
                expires = await lease.renew(session, job, now=clock(), lease_seconds=60)
            assert expires == job.lease_expires_at

        async with sessionmaker() as session, session.begin():
            expires = await lease.renew(session, job, now=clock(), lease_seconds=60)
        assert expires == clock() + dt.timedelta(seconds=60)


class TestTransaction:
    async def test_limits_how_long_it_may_sit_idle(
        self, sessionmaker: async_sessionmaker[AsyncSession], dialect: str
    ) -> None:
        async with lease.transaction(sessionmaker, idle_seconds=1.5) as session:
            if dialect == "postgresql":
                setting = await session.scalar(text("SHOW idle_in_transaction_session_timeout"))
                assert setting == "1500ms"
        async with sessionmaker() as session, session.begin():
            if dialect == "postgresql":
                # SET LOCAL: gone with the transaction.
                setting = await session.scalar(text("SHOW idle_in_transaction_session_timeout"))
                assert setting == "0"
