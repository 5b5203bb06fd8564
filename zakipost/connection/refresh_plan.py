"""When a connection's tokens are refreshed, and when its user must connect again.

Everything here comes from what TikTok returned with the grant (``expires_in``,
``refresh_expires_in``), never from a constant lifetime: TikTok changed its lifetimes before
(24 h access tokens, then 2 h) and says to schedule from the fields.

- **Proactive**: each grant plans its next refresh at 50-75 % of the access lifetime, jittered
  per connection and token generation (so connections made together spread out, and tests
  are deterministic), and queues one ``connection.refresh`` job for that time.
- **Lazy**: a TikTok call refreshes first when the token has less than ``lazy_margin`` left.
- **Horizon** (:mod:`zakipost.connection.horizon`): refreshing does not extend the refresh
  token's 180 days, so the user must connect again before ``reconnect_by``.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.models import Connection
from zakipost.worker import enqueue, move_job

REFRESH_TASK = "connection.refresh"
# The share of the access lifetime after which the proactive refresh runs.
PLAN_SHARE = (0.5, 0.75)
LAZY_MARGIN_MAX = dt.timedelta(minutes=10)


def refresh_job_lock(connection_id: uuid.UUID) -> str:
    """The ``lock`` and ``queueing_lock`` of a connection's refresh job: one at a time."""
    return f"refresh:{connection_id}"


def plan_refresh(
    connection_id: uuid.UUID, generation: int, issued_at: dt.datetime, lifetime: dt.timedelta
) -> dt.datetime:
    """The proactive refresh time for the token of ``generation`` issued at ``issued_at``."""
    low, high = PLAN_SHARE
    share = low + (high - low) * random.Random(f"{connection_id}:{generation}").random()
    return issued_at + lifetime * share


def lazy_margin(lifetime: dt.timedelta | None) -> dt.timedelta:
    """How close to expiry a token is refreshed before a call: a quarter of its lifetime,
    at most ten minutes (so a 90-second token is not refreshed on every call)."""
    if lifetime is None or lifetime <= dt.timedelta():
        return LAZY_MARGIN_MAX
    return min(LAZY_MARGIN_MAX, lifetime / 4)


def access_lifetime(connection: Connection) -> dt.timedelta | None:
    """The access lifetime TikTok stated for the current token."""
    if connection.access_expires_in is not None:
        return dt.timedelta(seconds=connection.access_expires_in)
    if connection.access_expires_at is not None and connection.last_refreshed_at is not None:
        return connection.access_expires_at - connection.last_refreshed_at
    return None


async def queue_refresh(
    session: AsyncSession, connection_id: uuid.UUID, run_at: dt.datetime, *, now: dt.datetime
) -> None:
    """Make the connection's one queued refresh job run at ``run_at``, in the caller's
    transaction (moved if one is queued, else queued)."""
    lock = refresh_job_lock(connection_id)
    if await move_job(session, lock, run_at, now=now):
        return
    await enqueue(
        session,
        REFRESH_TASK,
        {"connection_id": str(connection_id)},
        run_at=run_at,
        lock=lock,
        queueing_lock=lock,
        now=now,
    )
