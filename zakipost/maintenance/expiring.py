"""``connection.expiring``: told 14 and 3 days before TikTok's 180-day horizon, once each
per horizon (a reconnect gives a new horizon, warned about afresh)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost import events
from zakipost.models import Connection, ConnectionExpiryNotice, ConnectionStatus

# Days before reconnect_by, longest first.
WARN_DAYS = (14, 3)


async def tell_expiring(session: AsyncSession, now: dt.datetime) -> int:
    """Record a ``connection.expiring`` event for each active connection that entered a
    warning since the last run; how many were recorded."""
    horizon = now + dt.timedelta(days=max(WARN_DAYS))
    connections = (
        await session.scalars(
            select(Connection).where(
                Connection.status == ConnectionStatus.active,
                Connection.refresh_expires_at.is_not(None),
                Connection.refresh_expires_at > now,
                Connection.refresh_expires_at <= horizon,
            )
        )
    ).all()
    told = 0
    for connection in connections:
        reconnect_by = connection.refresh_expires_at
        assert reconnect_by is not None
        due = [d for d in WARN_DAYS if reconnect_by - dt.timedelta(days=d) <= now]
        sent = set(
            (
                await session.scalars(
                    select(ConnectionExpiryNotice.days_before).where(
                        ConnectionExpiryNotice.connection_id == connection.id,
                        ConnectionExpiryNotice.reconnect_by == reconnect_by,
                    )
                )
            ).all()
        )
        new = [d for d in due if d not in sent]
        if not new:
            continue
        for days in new:
            session.add(
                ConnectionExpiryNotice(
                    connection_id=connection.id, reconnect_by=reconnect_by, days_before=days
                )
            )
        # A connection first seen inside both warnings is told once, the nearer one.
        events.record(
            session,
            events.DomainEvent(
                "connection.expiring",
                connection.account_id,
                "connection",
                connection.id,
                {"days_before": min(new), "reconnect_by": reconnect_by},
            ),
        )
        told += 1
    return told
