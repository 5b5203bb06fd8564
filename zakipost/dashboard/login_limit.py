"""Failed log-ins, counted per email address and per client address in the database, so
every web process shares the count. Past the limit, log-ins wait until the oldest failure
in the window is old enough.

An attempt is reserved before its password is checked: under a lock per bucket (an advisory
lock on PostgreSQL, SQLite's write lock), the limits are read and the attempt is recorded as a
failure in the same transaction, so N parallel attempts evaluate at most the limit. A log-in
that succeeds takes its reservation back and forgets the email's failures.

The counts live in ``rate_budget_uses`` (one row per failure, sliding windows), the table
the TikTok request budgets use, under buckets of their own (``login:…``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.db.dialect import lock_key
from zakipost.kit.crypto import digest
from zakipost.models import RateBudgetUse

WINDOW = dt.timedelta(minutes=15)
PER_EMAIL = 5
PER_ADDRESS = 20


@dataclass(frozen=True, slots=True)
class LoginBlocked:
    """Log-ins are refused until ``retry_at``; ``reason`` says which limit was reached."""

    retry_at: dt.datetime
    reason: str

    def message(self, now: dt.datetime) -> str:
        minutes = max(1, math.ceil((self.retry_at - now).total_seconds() / 60))
        return (
            f"Too many failed log-ins {self.reason}. Try again after "
            f"{self.retry_at:%H:%M} UTC (in {minutes} minute{'s' if minutes != 1 else ''})."
        )


@dataclass(frozen=True, slots=True)
class Reservation:
    """One attempt, counted as a failure until :func:`succeeded` takes it back."""

    email: str
    row_ids: tuple[int, ...]


def _email_bucket(email: str) -> str:
    # Hashed: the table is shared and emails need not be readable in it.
    return "login:email:" + digest(email.strip().lower())[:40]


def _address_bucket(address: str) -> str:
    return "login:addr:" + address[:60]


async def _blocked_until(
    session: AsyncSession, bucket: str, limit: int, now: dt.datetime
) -> dt.datetime | None:
    since = now - WINDOW
    await session.execute(
        delete(RateBudgetUse).where(RateBudgetUse.bucket == bucket, RateBudgetUse.at <= since)
    )
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(RateBudgetUse.at)).where(
                RateBudgetUse.bucket == bucket, RateBudgetUse.at > since
            )
        )
    ).one()
    if count >= limit and oldest is not None:
        return oldest + WINDOW
    return None


async def reserve(
    session: AsyncSession, email: str, address: str | None, now: dt.datetime
) -> LoginBlocked | Reservation:
    """Whether a log-in for ``email`` from ``address`` may be tried now; if so, the attempt
    is recorded (commit before checking the password, so parallel attempts see it)."""
    limits = [(_email_bucket(email), PER_EMAIL, "for this email address")]
    if address:
        limits.append((_address_bucket(address), PER_ADDRESS, "from your network"))
    # Always email then address: every transaction takes the locks in the same order.
    for bucket, _, _ in limits:
        await lock_key(session, bucket)
    for bucket, limit, reason in limits:
        until = await _blocked_until(session, bucket, limit, now)
        if until is not None:
            return LoginBlocked(until, reason)
    rows = [RateBudgetUse(bucket=bucket, at=now) for bucket, _, _ in limits]
    session.add_all(rows)
    await session.flush()
    return Reservation(email, tuple(row.id for row in rows))


async def succeeded(session: AsyncSession, reservation: Reservation) -> None:
    """A successful log-in forgets the email's failures, and is not counted against the
    address (earlier failures from the address stay)."""
    await session.execute(
        delete(RateBudgetUse).where(
            (RateBudgetUse.bucket == _email_bucket(reservation.email))
            | RateBudgetUse.id.in_(reservation.row_ids)
        )
    )
