"""TikTok's per-token request budgets, shared by every worker through the database.

Each request is recorded before it is sent. A request that would exceed its budget is
not sent: the caller gets the time a slot frees and defers until then.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import Table, bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.config import PublishingSettings
from zakipost.models import Connection, RateBudgetUse

WINDOW = dt.timedelta(minutes=1)

_USES: Table = RateBudgetUse.__table__  # type: ignore[assignment]
# Built once, the values bound at execution (every TikTok call spends from a budget).
# Serializes reservations per connection across workers (SQLite's write lock does it there,
# and renders no FOR UPDATE).
_LOCK_CONNECTION = (
    select(Connection.id).where(Connection.id == bindparam("connection_id")).with_for_update()
)
_FORGET = delete(_USES).where(
    _USES.c.bucket == bindparam("bucket"), _USES.c.at <= bindparam("since")
)
_USED = select(func.count(), func.min(_USES.c.at)).where(
    _USES.c.bucket == bindparam("bucket"), _USES.c.at > bindparam("since")
)
_SPEND = insert(_USES)


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
    await session.execute(_LOCK_CONNECTION, {"connection_id": connection_id})
    window = {"bucket": f"{connection_id}:{family}", "since": now - WINDOW}
    await session.execute(_FORGET, window)
    used, oldest = (await session.execute(_USED, window)).one()
    if used >= limit:
        return (oldest or now) + WINDOW
    await session.execute(_SPEND, {"bucket": window["bucket"], "at": now})
    return None
