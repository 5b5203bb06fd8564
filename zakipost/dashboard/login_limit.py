"""Failed log-ins, counted per email address and per client address in the database, so
every web process shares the count. Past the limit, log-ins wait until the oldest failure
in the window is old enough.

The counts live in ``rate_budget_uses`` (one row per failure, sliding windows), the table
the TikTok request budgets use, under buckets of their own (``login:…``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

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


async def check(
    session: AsyncSession, email: str, address: str | None, now: dt.datetime
) -> LoginBlocked | None:
    """Whether a log-in for ``email`` from ``address`` may be tried now."""
    until = await _blocked_until(session, _email_bucket(email), PER_EMAIL, now)
    if until is not None:
        return LoginBlocked(until, "for this email address")
    if address:
        until = await _blocked_until(session, _address_bucket(address), PER_ADDRESS, now)
        if until is not None:
            return LoginBlocked(until, "from your network")
    return None


async def record_failure(
    session: AsyncSession, email: str, address: str | None, now: dt.datetime
) -> None:
    session.add(RateBudgetUse(bucket=_email_bucket(email), at=now))
    if address:
        session.add(RateBudgetUse(bucket=_address_bucket(address), at=now))
    await session.flush()


async def clear(session: AsyncSession, email: str) -> None:
    """A successful log-in forgets the email's failures (not the address's)."""
    await session.execute(delete(RateBudgetUse).where(RateBudgetUse.bucket == _email_bucket(email)))
