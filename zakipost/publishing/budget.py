"""TikTok's per-token request budgets, shared by every worker through the database.

Each request is recorded before it is sent. A request that would exceed its budget is
not sent: the caller gets the time a slot frees and defers until then.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import Integer, String, Table, and_, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.config import PublishingSettings
from zakipost.db.types import UTCDateTime
from zakipost.models import Connection, RateBudgetUse

WINDOW = dt.timedelta(minutes=1)

_USES: Table = RateBudgetUse.__table__  # type: ignore[assignment]
# Built once, the values bound at execution (every TikTok call spends from a budget).
# Serializes reservations per connection across workers (SQLite's write lock does it there,
# and renders no FOR UPDATE).
_LOCK_CONNECTION = (
    select(Connection.id).where(Connection.id == bindparam("connection_id")).with_for_update()
)
_IN_WINDOW = and_(_USES.c.bucket == bindparam("use_bucket"), _USES.c.at > bindparam("use_since"))
# Spends one request if the window has room, in one statement: a use is inserted only
# while fewer than the limit are in the window. Older uses are left to maintenance.prune.
_SPEND = (
    insert(_USES)
    .from_select(
        ["bucket", "at"],
        select(
            bindparam("use_bucket", type_=String()), bindparam("use_at", type_=UTCDateTime())
        ).where(
            select(func.count()).select_from(_USES).where(_IN_WINDOW).scalar_subquery()
            < bindparam("use_limit", type_=Integer())
        ),
    )
    .returning(_USES.c.id)
)
_OLDEST = select(func.min(_USES.c.at)).where(_IN_WINDOW)


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
    window = {"use_bucket": f"{connection_id}:{family}", "use_since": now - WINDOW}
    spent = await session.execute(_SPEND, {**window, "use_at": now, "use_limit": limit})
    if spent.first() is not None:
        return None
    oldest: dt.datetime | None = await session.scalar(_OLDEST, window)
    return (oldest or now) + WINDOW
