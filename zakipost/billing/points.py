"""The points ledger: append-only entries whose sum is the balance."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
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
    total = await session.scalar(
        select(func.coalesce(func.sum(PointEntry.amount), 0)).where(
            PointEntry.account_id == account_id
        )
    )
    return int(total or 0)


async def grant(
    session: AsyncSession, account_id: uuid.UUID, amount: int, *, reason: str
) -> PointEntry:
    if amount <= 0:
        raise ValidationFailed("A grant must be a positive number of points.")
    entry = PointEntry(
        account_id=account_id, kind=PointEntryKind.grant, amount=amount, reason=reason
    )
    session.add(entry)
    await session.flush()
    return entry


async def debit(
    session: AsyncSession, account_id: uuid.UUID, cost: int, *, reason: str, reference: str
) -> PointEntry | None:
    """Spend ``cost`` points, or refuse with 402. Nothing is written when cost is 0."""
    if cost <= 0:
        return None
    await _lock_ledger(session, account_id)
    current = await balance(session, account_id)
    if current < cost:
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
    session.add(entry)
    await session.flush()
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
    session.add(entry)
    await session.flush()
    return entry


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
