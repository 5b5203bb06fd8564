"""TikTok's per-token request budgets, shared by every worker through the database.

Each request is recorded before it is sent. A request that would exceed its budget is
not sent: the caller gets the time a slot frees and defers until then.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.config import PublishingSettings
from zakipost.models import Connection, RateBudgetUse

WINDOW = dt.timedelta(minutes=1)


class Family(enum.StrEnum):
    creator_info = "creator_info"
    init = "init"
    status = "status"


def limit_of(settings: PublishingSettings, family: Family) -> int:
    return {
        Family.creator_info: settings.creator_info_per_minute,
        Family.init: settings.init_per_minute,
        Family.status: settings.status_per_minute,
    }[family]


async def reserve(
    session: AsyncSession,
    connection_id: uuid.UUID,
    family: Family,
    limit: int,
    now: dt.datetime,
) -> dt.datetime | None:
    """Spend one request of ``family`` now, or return when one will be free."""
    # Serialize reservations per connection across workers (SQLite's write lock does it there).
    await session.execute(
        select(Connection.id).where(Connection.id == connection_id).with_for_update()
    )
    bucket = f"{connection_id}:{family}"
    since = now - WINDOW
    await session.execute(
        delete(RateBudgetUse).where(RateBudgetUse.bucket == bucket, RateBudgetUse.at <= since)
    )
    used, oldest = (
        await session.execute(
            select(func.count(), func.min(RateBudgetUse.at)).where(
                RateBudgetUse.bucket == bucket, RateBudgetUse.at > since
            )
        )
    ).one()
    if used >= limit:
        return (oldest or now) + WINDOW
    session.add(RateBudgetUse(bucket=bucket, at=now))
    await session.flush()
    return None
