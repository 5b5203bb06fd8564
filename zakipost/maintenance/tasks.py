"""Periodic housekeeping: rows that only matter for a while are deleted once stale."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from zakipost.maintenance.expiring import tell_expiring
from zakipost.models import (
    DashboardSession,
    DeliveryStatus,
    IdempotencyKey,
    Job,
    JobStatus,
    OAuthState,
    RateBudgetUse,
    TikTokWebhookEvent,
    WebhookDelivery,
)
from zakipost.worker import JobContext, TaskRegistry

PRUNE_TASK = "maintenance.prune"
PRUNE_EVERY = dt.timedelta(hours=1)
EXPIRING_TASK = "maintenance.connections_expiring"
EXPIRING_EVERY = dt.timedelta(hours=1)
# Budget windows and login limits look back a minute to a quarter of an hour.
BUDGET_KEEP = dt.timedelta(days=1)
FINISHED_JOBS_KEEP = dt.timedelta(days=7)
# The webhook deliveries log keeps a month of settled deliveries.
SETTLED_DELIVERIES_KEEP = dt.timedelta(days=30)
# TikTok retries a webhook for up to 72 hours: a body older than this cannot come again.
TIKTOK_WEBHOOKS_KEEP = dt.timedelta(days=4)


async def prune(ctx: JobContext) -> dict[str, int]:
    now = ctx.now()
    statements = {
        "rate_budget_uses": delete(RateBudgetUse).where(RateBudgetUse.at < now - BUDGET_KEEP),
        "oauth_states": delete(OAuthState).where(OAuthState.expires_at < now - BUDGET_KEEP),
        "dashboard_sessions": delete(DashboardSession).where(DashboardSession.expires_at < now),
        "idempotency_keys": delete(IdempotencyKey).where(IdempotencyKey.expires_at < now),
        "tiktok_webhook_events": delete(TikTokWebhookEvent).where(
            TikTokWebhookEvent.received_at < now - TIKTOK_WEBHOOKS_KEEP
        ),
        "jobs": delete(Job).where(
            Job.status.in_([JobStatus.succeeded, JobStatus.cancelled]),
            Job.finished_at < now - FINISHED_JOBS_KEEP,
        ),
        "webhook_deliveries": delete(WebhookDelivery).where(
            WebhookDelivery.status != DeliveryStatus.pending,
            WebhookDelivery.updated_at < now - SETTLED_DELIVERIES_KEEP,
        ),
    }
    removed: dict[str, int] = {}
    async with ctx.fenced() as session:
        for table, statement in statements.items():
            result = await session.execute(statement.execution_options(synchronize_session=False))
            removed[table] = int(getattr(result, "rowcount", 0) or 0)
    return removed


def register(registry: TaskRegistry) -> None:
    @registry.task(PRUNE_TASK)
    async def maintenance_prune(ctx: JobContext) -> dict[str, int]:
        return await prune(ctx)

    registry.periodic(PRUNE_TASK, every=PRUNE_EVERY)

    @registry.task(EXPIRING_TASK)
    async def connections_expiring(ctx: JobContext) -> int:
        async with ctx.fenced() as session:
            return await tell_expiring(session, ctx.now())

    registry.periodic(EXPIRING_TASK, every=EXPIRING_EVERY)
