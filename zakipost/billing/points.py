"""The points ledger: append-only entries whose sum is the balance.

The balance is also kept on the account row (``Account.points_balance``) and moved by the
same amount in the same transaction as every entry, through :func:`_add`: reading it, or
checking it before a debit, costs one row instead of a ``SUM`` over a ledger that grows with
every publish. Every entry goes through this module, so the two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, NoReturn

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.errors import PaymentRequired, ValidationFailed
from zakipost.kit.clock import utcnow
from zakipost.models import Account, PointEntry, PointEntryKind

_ENTRIES: Table = PointEntry.__table__  # type: ignore[assignment]
_ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]

# SPEND is the debit's check-and-spend (parameters account_id, cost, now), also built into the
# PostgreSQL acceptance statement (zakipost.post.service) as a CTE.
# Built once, executed with bound values (Core, on the transaction's connection): a debit
# runs on every publish, and building the statements and their cache keys per call, then
# writing the entry through the ORM's unit of work, was a measurable part of one.
SPEND = (
    update(_ACCOUNTS)
    .where(
        _ACCOUNTS.c.id == bindparam("account_id"), _ACCOUNTS.c.points_balance >= bindparam("cost")
    )
    # updated_at as a parameter: its onupdate default is not applied inside a CTE.
    .values(
        points_balance=_ACCOUNTS.c.points_balance - bindparam("cost"),
        updated_at=bindparam("now"),
    )
)
_BALANCE = select(_ACCOUNTS.c.points_balance).where(_ACCOUNTS.c.id == bindparam("account_id"))
_INSERT_ENTRY = insert(_ENTRIES)


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
    """Spend ``cost`` points, or refuse with 402; the ledger entry is written at once, in the
    session's transaction. Nothing is written when cost is 0."""
    if cost <= 0:
        return None
    return await session.run_sync(
        lambda sync: debit_on(
            sync.connection(), account_id, cost, reason=reason, reference=reference
        )
    )


def debit_on(
    connection: Connection,
    account_id: uuid.UUID,
    cost: int,
    *,
    reason: str,
    reference: str,
    now: dt.datetime | None = None,
) -> PointEntry | None:
    """:func:`debit` on the synchronous connection of the caller's transaction (two prebuilt
    statements, no unit of work): for callers that run their writes in one ``run_sync``."""
    if cost <= 0:
        return None
    # One statement checks and spends: it locks the row, so two writers cannot both spend
    # the last points (SQLite's IMMEDIATE transactions serialize writers already).
    # rowcount, not RETURNING: the new balance is not needed (and one fetch less on SQLite).
    now = now or utcnow()
    if not connection.execute(SPEND, {"account_id": account_id, "cost": cost, "now": now}).rowcount:
        raise_insufficient(connection, account_id, cost)
    values = debit_entry(account_id, cost, reason=reason, reference=reference, now=now)
    connection.execute(_INSERT_ENTRY, values)
    # Not added to any session: the row is written; the object only tells the caller what.
    return PointEntry(**values)


def debit_entry(
    account_id: uuid.UUID, cost: int, *, reason: str, reference: str, now: dt.datetime | None
) -> dict[str, Any]:
    """The ledger row of a debit of ``cost``, for callers that write it themselves."""
    now = now or utcnow()
    return {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "kind": PointEntryKind.debit,
        "amount": -cost,
        "reason": reason,
        "reference": reference,
        "created_at": now,
        "updated_at": now,
    }


def raise_insufficient(connection: Connection, account_id: uuid.UUID, cost: int) -> NoReturn:
    """The 402 of a debit the balance did not cover, with the balance it found."""
    current = int(connection.execute(_BALANCE, {"account_id": account_id}).scalar() or 0)
    raise InsufficientPoints(
        f"Insufficient points: publishing costs {cost} points and your balance is {current}.",
        details={"balance": current, "cost": cost},
    )


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
