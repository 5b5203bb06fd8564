"""Periodic token refresh: every connection's access token is renewed well before it
expires, one connection per job and one job per connection at a time."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from sqlalchemy import select

from zakipost.connection.errors import ReconnectRequired
from zakipost.connection.tokens import TokenVault
from zakipost.logging import get_logger
from zakipost.models import Connection, ConnectionStatus
from zakipost.tiktok import TikTokError
from zakipost.worker import JobContext, RetryStrategy, TaskRegistry, TransientJobError, enqueue

log = get_logger(__name__)

SWEEP_TASK = "connection.refresh_tokens"
REFRESH_TASK = "connection.refresh"
# Refresh when less than this is left (access tokens live 24 h), jittered so a batch of
# connections made together does not refresh together.
REFRESH_AHEAD = dt.timedelta(hours=2)
SWEEP_EVERY = dt.timedelta(minutes=10)


def refresh_ahead(connection_id: uuid.UUID) -> dt.timedelta:
    # Stable per connection, between 2 and 3 hours.
    jitter = random.Random(connection_id.int).random()
    return REFRESH_AHEAD + dt.timedelta(hours=jitter)


async def sweep(ctx: JobContext) -> int:
    """Queue a refresh for every active connection close to expiry."""
    now = ctx.now()
    queued = 0
    async with ctx.fenced() as session:
        rows = (
            await session.execute(
                select(Connection.id, Connection.access_expires_at).where(
                    Connection.status == ConnectionStatus.active,
                    Connection.access_expires_at.is_not(None),
                    Connection.access_expires_at < now + REFRESH_AHEAD + dt.timedelta(hours=1),
                )
            )
        ).all()
        for connection_id, expires_at in rows:
            if expires_at is None or expires_at - now > refresh_ahead(connection_id):
                continue
            job = await enqueue(
                session,
                REFRESH_TASK,
                {"connection_id": str(connection_id)},
                queueing_lock=f"refresh:{connection_id}",
                lock=f"refresh:{connection_id}",
            )
            queued += job is not None
    return queued


async def refresh(ctx: JobContext, tokens: TokenVault, connection_id: uuid.UUID) -> str:
    async with ctx.fenced() as session:
        expires_at = await session.scalar(
            select(Connection.access_expires_at).where(Connection.id == connection_id)
        )
    if expires_at is not None and expires_at - ctx.now() > refresh_ahead(connection_id):
        return "already_fresh"  # refreshed by someone else since the sweep
    try:
        await tokens.refresh(connection_id, force=True)
    except ReconnectRequired:
        return "reconnect_required"
    except TikTokError as exc:
        if exc.retryable:
            raise TransientJobError(f"TikTok: {exc.code}") from exc
        raise
    return "refreshed"


def register(registry: TaskRegistry, tokens: TokenVault) -> None:
    @registry.task(SWEEP_TASK)
    async def refresh_tokens(ctx: JobContext) -> int:
        return await sweep(ctx)

    @registry.task(REFRESH_TASK, retry=RetryStrategy(max_attempts=6))
    async def refresh_connection(ctx: JobContext, *, connection_id: str) -> str:
        return await refresh(ctx, tokens, uuid.UUID(connection_id))

    registry.periodic(SWEEP_TASK, every=SWEEP_EVERY)
