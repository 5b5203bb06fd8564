"""Token refresh jobs. Each grant queues one ``connection.refresh`` job for its planned time
(see ``refresh_plan``); the job refreshes only when that plan is due, and the new grant plans
and queues the next. The periodic sweep is a safety net: it queues a job for a connection
whose planned time passed without one (a job lost to a failure), and never refreshes early."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.connection.errors import ReconnectRequired
from zakipost.connection.refresh_plan import REFRESH_TASK, queue_refresh, refresh_job_lock
from zakipost.connection.tokens import TokenVault
from zakipost.logging import get_logger
from zakipost.models import Connection, ConnectionStatus, Job, JobStatus
from zakipost.tiktok import TikTokError
from zakipost.worker import JobContext, RetryStrategy, TaskRegistry, TransientJobError

log = get_logger(__name__)

SWEEP_TASK = "connection.refresh_tokens"
SWEEP_EVERY = dt.timedelta(minutes=10)


async def sweep(ctx: JobContext) -> int:
    """Queue a refresh job for every active connection whose plan is due and has none."""
    now = ctx.now()
    queued = 0
    async with ctx.fenced() as session:
        rows = (
            await session.execute(
                select(Connection.id).where(
                    Connection.status == ConnectionStatus.active,
                    Connection.refresh_planned_at.is_not(None),
                    Connection.refresh_planned_at <= now,
                )
            )
        ).all()
        for (connection_id,) in rows:
            if await _has_due_refresh_job(session, connection_id, now):
                continue
            await queue_refresh(session, connection_id, now, now=now)
            queued += 1
    if queued:
        log.warning("token_refresh_jobs_requeued", count=queued)
    return queued


async def _has_due_refresh_job(
    session: AsyncSession, connection_id: uuid.UUID, now: dt.datetime
) -> bool:
    job = await session.scalar(
        select(Job.id)
        .where(
            Job.queueing_lock == refresh_job_lock(connection_id),
            or_(
                Job.status == JobStatus.doing,
                and_(Job.status == JobStatus.todo, Job.run_at <= now),
            ),
        )
        .limit(1)
    )
    return job is not None


async def refresh(ctx: JobContext, tokens: TokenVault, connection_id: uuid.UUID) -> str:
    """Refresh if the connection's planned refresh is due (and nobody refreshed since).

    The vault decides by its own clock, the one that planned the refresh: a worker whose
    clock runs ahead must not refresh again and again. A job run before the plan does
    nothing; the new grant's job, or the sweep, covers the plan.
    """
    async with ctx.fenced() as session:
        status = await session.scalar(
            select(Connection.status).where(Connection.id == connection_id)
        )
    if status is not ConnectionStatus.active:
        return "inactive"
    try:
        refreshed = await tokens.refresh_if_planned(connection_id)
    except ReconnectRequired:
        return "reconnect_required"
    except TikTokError as exc:
        if exc.retryable:
            raise TransientJobError(f"TikTok: {exc.code}") from exc
        raise
    return "refreshed" if refreshed else "not_due"


def register(registry: TaskRegistry, tokens: TokenVault) -> None:
    @registry.task(SWEEP_TASK)
    async def refresh_tokens(ctx: JobContext) -> int:
        return await sweep(ctx)

    @registry.task(REFRESH_TASK, retry=RetryStrategy(max_attempts=6))
    async def refresh_connection(ctx: JobContext, *, connection_id: str) -> str:
        return await refresh(ctx, tokens, uuid.UUID(connection_id))

    registry.periodic(SWEEP_TASK, every=SWEEP_EVERY)
