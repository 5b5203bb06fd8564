"""The points ledger: append-only entries whose sum is the balance.

The balance is also kept on the account row (``Account.points_balance``) and moved by the
same amount in the same transaction as every entry, through :func:`_add`: reading it, or
checking it before a debit, costs one row instead of a ``SUM`` over a ledger that grows with
every publish. Every entry goes through this module, so the two cannot drift apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.errors import PaymentRequired, ValidationFailed
from zakipost.models import Account, PointEntry, PointEntryKind


class InsufficientPoints(PaymentRequired):
    code = "insufficient_points"


async def _lock_ledger(session: AsyncSession, account_id: uuid.UUID) -> None:
    # Lock the account row so two writers cannot both spend the last points or both
    # refund one debit (SQLite's IMMEDIATE transactions serialize writers already).
    await session.execute(select(Account.id).where(Account.id == account_id).with_for_update())


async def balance(session: AsyncSession, account_id: uuid.UUID) -> int:
    total = await session.scalar(select(Account.points_balance).where(Account.id == account_id))
    return int(total or 0)


async def _add(session: AsyncSession, entry: PointEntry) -> PointEntry:
    """Write ``entry`` and move the account's balance by its amount, in the caller's
    transaction (the UPDATE locks the account row until it ends)."""
    await session.execute(
        update(Account)
        .where(Account.id == entry.account_id)
        .values(points_balance=Account.points_balance + entry.amount)
        .execution_options(synchronize_session=False)
    )
    session.add(entry)
    await session.flush()
    return entry


async def grant(
    session: AsyncSession, account_id: uuid.UUID, amount: int, *, reason: str
) -> PointEntry:
    if amount <= 0:
        raise ValidationFailed("A grant must be a positive number of points.")
    entry = PointEntry(
        account_id=account_id, kind=PointEntryKind.grant, amount=amount, reason=reason
    )
    return await _add(session, entry)


async def debit(
    session: AsyncSession, account_id: uuid.UUID, cost: int, *, reason: str, reference: str
) -> PointEntry | None:
    """Spend ``cost`` points, or refuse with 402; the ledger entry is added to the session
    (written with its next flush or commit). Nothing is written when cost is 0."""
    if cost <= 0:
        return None
    # One statement checks and spends: it locks the row, so two writers cannot both spend
    # the last points (SQLite's IMMEDIATE transactions serialize writers already).
    spent = await session.scalar(
        update(Account)
        .where(Account.id == account_id, Account.points_balance >= cost)
        .values(points_balance=Account.points_balance - cost)
        .returning(Account.points_balance)
        .execution_options(synchronize_session=False)
    )
    if spent is None:
        current = await balance(session, account_id)
        raise InsufficientPoints(
            f"Insufficient points: publishing costs {cost} points and your balance is {current}.",
            details={"balance": current, "cost": cost},
        )
    entry = PointEntry(
        account_id=account_id,
        kind=PointEntryKind.debit,
        amount=-cost,
        reason=reason,
        reference=reference,
    )
    # Written by the caller's next flush (the publish's, with its post): a flush of its own
    # would run the unit of work once more per publish for nothing.
    session.add(entry)
    return entry


async def refund(
    session: AsyncSession, account_id: uuid.UUID, *, reference: str, reason: str
) -> PointEntry | None:
    """Give back what was debited for ``reference``, once; later calls do nothing."""
    await _lock_ledger(session, account_id)
    rows = (
        await session.execute(
            select(PointEntry.kind, PointEntry.amount).where(
                PointEntry.account_id == account_id, PointEntry.reference == reference
            )
        )
    ).all()
    net = sum(amount for kind, amount in rows if kind is not PointEntryKind.grant)
    if net >= 0:
        return None
    entry = PointEntry(
        account_id=account_id,
        kind=PointEntryKind.refund,
        amount=-net,
        reason=reason,
        reference=reference,
    )
    return await _add(session, entry)


async def history(
    session: AsyncSession, account_id: uuid.UUID, *, limit: int = 50, offset: int = 0
) -> Sequence[PointEntry]:
    result = await session.scalars(
        select(PointEntry)
        .where(PointEntry.account_id == account_id)
        .order_by(PointEntry.created_at.desc(), PointEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return result.all()
