"""TikTok's per-token budgets: one statement spends while the one-minute window has room;
a full window says when its oldest use leaves it and spends nothing."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.models import Account, Connection, RateBudgetUse
from zakipost.publishing import budget

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
Maker = async_sessionmaker[AsyncSession]
Family = budget.Family


@pytest.fixture
async def connection_id(sessionmaker: Maker) -> uuid.UUID:
    async with sessionmaker() as session, session.begin():
        account = Account(
            id=uuid.uuid4(),
            email="budget@example.com",
            password_hash="x",
            client_key=f"ck_{uuid.uuid4().hex}",
            client_secret_hash="h",
            client_secret_encrypted="e",
        )
        row = Connection(id=uuid.uuid4(), account_id=account.id, open_id="creator")
        session.add_all([account, row])
    return row.id


async def _reserve(
    sessionmaker: Maker, connection_id: uuid.UUID, family: Family, now: dt.datetime, limit: int = 2
) -> dt.datetime | None:
    async with sessionmaker() as session, session.begin():
        return await budget.reserve(session, connection_id, family, limit, now)


async def _uses(sessionmaker: Maker) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(RateBudgetUse)) or 0)


class TestReserve:
    async def test_spends_up_to_the_limit_then_says_when_the_oldest_frees(
        self, sessionmaker: Maker, connection_id: uuid.UUID
    ) -> None:
        assert await _reserve(sessionmaker, connection_id, Family.init, T0) is None
        assert await _reserve(sessionmaker, connection_id, Family.init, T0 + SECOND) is None
        refused = await _reserve(sessionmaker, connection_id, Family.init, T0 + 2 * SECOND)
        assert refused == T0 + budget.WINDOW
        assert await _uses(sessionmaker) == 2  # a refusal spends nothing

    async def test_a_use_leaves_the_window_after_a_minute(
        self, sessionmaker: Maker, connection_id: uuid.UUID
    ) -> None:
        for at in (T0, T0 + SECOND):
            assert await _reserve(sessionmaker, connection_id, Family.status, at) is None
        assert (
            await _reserve(sessionmaker, connection_id, Family.status, T0 + budget.WINDOW) is None
        )
        refused = await _reserve(sessionmaker, connection_id, Family.status, T0 + budget.WINDOW)
        assert refused == T0 + SECOND + budget.WINDOW

    async def test_families_and_connections_have_their_own_budgets(
        self, sessionmaker: Maker, connection_id: uuid.UUID
    ) -> None:
        assert await _reserve(sessionmaker, connection_id, Family.init, T0, limit=1) is None
        assert await _reserve(sessionmaker, connection_id, Family.status, T0, limit=1) is None
        assert await _reserve(sessionmaker, connection_id, Family.init, T0, limit=1) is not None
        async with sessionmaker() as session, session.begin():
            other = Connection(
                id=uuid.uuid4(),
                account_id=(await session.get_one(Connection, connection_id)).account_id,
                open_id="another",
            )
            session.add(other)
        assert await _reserve(sessionmaker, other.id, Family.init, T0, limit=1) is None

    async def test_a_limit_of_zero_spends_nothing(
        self, sessionmaker: Maker, connection_id: uuid.UUID
    ) -> None:
        refused = await _reserve(sessionmaker, connection_id, Family.init, T0, limit=0)
        assert refused == T0 + budget.WINDOW
        assert await _uses(sessionmaker) == 0
