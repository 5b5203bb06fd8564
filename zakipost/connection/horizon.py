"""The horizon: refreshing does not extend TikTok's 180 days, so the user must connect again
before ``reconnect_by``. Free of the ORM and the database (the API schemas use it)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zakipost.models import Connection

# The dashboard and the API warn this long before the user must connect again.
RECONNECT_WARNING = dt.timedelta(days=14)


def reconnect_by(connection: Connection) -> dt.datetime | None:
    """When the refresh token dies and the user must have connected again."""
    return connection.refresh_expires_at


def horizon_passed(refresh_expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    return refresh_expires_at is not None and refresh_expires_at <= now


def horizon_reason(refresh_expires_at: dt.datetime) -> str:
    return (
        f"TikTok's authorization of this account ended on {refresh_expires_at:%Y-%m-%d %H:%M} "
        "UTC (TikTok allows 180 days from connecting, and refreshing does not extend them); "
        "connect the account again."
    )


def reconnect_warning(connection: Connection, now: dt.datetime) -> str | None:
    """What to tell the user from ``RECONNECT_WARNING`` before the horizon on."""
    deadline = reconnect_by(connection)
    if deadline is None or deadline - now > RECONNECT_WARNING:
        return None
    if deadline <= now:
        return horizon_reason(deadline)
    return (
        f"TikTok's authorization of this account ends on {deadline:%Y-%m-%d %H:%M} UTC; "
        "connect it again before then (Connect TikTok, same TikTok account) to keep publishing."
    )
