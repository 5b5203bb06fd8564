"""The balance kept on the account stays exactly the ledger's sum, through every kind of entry,
a refused debit, concurrent debits, and the migration that introduced it."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from zakipost.billing import points
from zakipost.db import migrate
from zakipost.models import Account, PointEntry

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _account(email: str = "ledger@example.com") -> Account:
    return Account(
        email=email,
        password_hash="x",
        plan="pro",
        client_key=f"ck-{uuid.uuid4().hex[:12]}",
        client_secret_hash="h",
        client_secret_encrypted="e",
    )


async def _ledger_sum(session: AsyncSession, account_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(PointEntry.amount), 0)).where(
            PointEntry.account_id == account_id
        )
    )
    return int(total or 0)


async def _new_account(sessionmaker: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    async with sessionmaker() as session, session.begin():
        account = _account()
        session.add(account)
        await session.flush()
        return account.id


async def test_every_entry_moves_the_balance_by_its_amount(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account_id = await _new_account(sessionmaker)
    steps = [
        lambda s: points.grant(s, account_id, 1000, reason="Initial points"),
        lambda s: points.debit(s, account_id, 400, reason="Publish", reference="v_pub_1"),
        lambda s: points.debit(s, account_id, 400, reason="Publish", reference="v_pub_2"),
        lambda s: points.refund(s, account_id, reference="v_pub_1", reason="Failed"),
        # A second refund of the same debit writes nothing.
        lambda s: points.refund(s, account_id, reference="v_pub_1", reason="Failed"),
        lambda s: points.debit(s, account_id, 0, reason="Free", reference="v_pub_3"),
        lambda s: points.grant(s, account_id, 7, reason="Gift"),
    ]
    expected = [1000, 600, 200, 600, 600, 600, 607]
    for step, balance in zip(steps, expected, strict=True):
        async with sessionmaker() as session, session.begin():
            await step(session)
        async with sessionmaker() as session:
            assert await points.balance(session, account_id) == balance
            assert await _ledger_sum(session, account_id) == balance


async def test_a_refused_debit_writes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account_id = await _new_account(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await points.grant(session, account_id, 300, reason="Initial points")
    with pytest.raises(points.InsufficientPoints) as refused:
        async with sessionmaker() as session, session.begin():
            await points.debit(session, account_id, 400, reason="Publish", reference="v_pub_1")
    assert refused.value.details == {"balance": 300, "cost": 400}
    assert "your balance is 300" in refused.value.message
    async with sessionmaker() as session:
        assert await points.balance(session, account_id) == 300
        assert await _ledger_sum(session, account_id) == 300
        entries = await session.scalar(
            select(func.count()).select_from(PointEntry).where(PointEntry.account_id == account_id)
        )
        assert entries == 1


async def test_concurrent_debits_never_spend_more_than_the_balance(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account_id = await _new_account(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await points.grant(session, account_id, 1000, reason="Initial points")

    async def spend(index: int) -> bool:
        try:
            async with sessionmaker() as session, session.begin():
                await points.debit(
                    session, account_id, 300, reason="Publish", reference=f"v_pub_{index}"
                )
        except points.InsufficientPoints:
            return False
        return True

    results = await asyncio.gather(*(spend(i) for i in range(6)))
    assert sum(results) == 3
    async with sessionmaker() as session:
        assert await points.balance(session, account_id) == 100
        assert await _ledger_sum(session, account_id) == 100


_accounts = sa.table(
    "accounts",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("password_hash", sa.Text()),
    sa.column("plan", sa.String()),
    sa.column("client_key", sa.String()),
    sa.column("client_secret_hash", sa.String()),
    sa.column("client_secret_encrypted", sa.Text()),
    sa.column("is_admin", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_entries = sa.table(
    "point_entries",
    sa.column("id", sa.Uuid()),
    sa.column("account_id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("amount", sa.BigInteger()),
    sa.column("reason", sa.String()),
    sa.column("reference", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


async def test_the_migration_backfills_each_balance_from_its_ledger(
    scratch_engine: AsyncEngine,
) -> None:
    await migrate.upgrade(scratch_engine, "0011")
    rich, empty = uuid.uuid4(), uuid.uuid4()
    async with scratch_engine.begin() as conn:
        for account_id, key in ((rich, "ck-rich"), (empty, "ck-empty")):
            await conn.execute(
                _accounts.insert().values(
                    id=account_id,
                    email=f"{key}@example.com",
                    password_hash="x",
                    plan="pro",
                    client_key=key,
                    client_secret_hash="h",
                    client_secret_encrypted="e",
                    is_admin=False,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        for kind, amount in (("grant", 1000), ("debit", -400), ("refund", 400), ("debit", -400)):
            await conn.execute(
                _entries.insert().values(
                    id=uuid.uuid4(),
                    account_id=rich,
                    kind=kind,
                    amount=amount,
                    reason="r",
                    reference=None,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    await migrate.upgrade(scratch_engine, "0012")
    async with scratch_engine.connect() as conn:
        balances = dict(
            (await conn.execute(sa.text("SELECT id, points_balance FROM accounts"))).all()
        )
    assert {uuid.UUID(str(k)): v for k, v in balances.items()} == {rich: 600, empty: 0}
    await migrate.downgrade(scratch_engine, "0011")
