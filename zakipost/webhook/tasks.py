"""The ``webhook.deliver`` job: one attempt per run; :func:`~zakipost.webhook.delivery.settle`
queues the next one. At least once: a worker dying mid-attempt leaves the job to be claimed
again, and the receiver sees the same ``webhook-id`` twice at most per crash."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from zakipost import metrics
from zakipost.config import Settings
from zakipost.kit.crypto import Vault
from zakipost.media import Resolver
from zakipost.webhook.delivery import Sender, Settled, prepare, settle
from zakipost.webhook.outbox import DELIVER_TASK
from zakipost.worker import JobContext, RetryStrategy, TaskRegistry


def backoff_for(settings: Settings, rand: Callable[[], float]) -> RetryStrategy:
    """The retry schedule: 30 s doubling to a 6-hour cap (settings), up to half of each
    delay taken off at random so receivers coming back are not hit all at once."""
    hooks = settings.webhooks
    return RetryStrategy(
        max_attempts=1,  # attempts are bounded by the retry window, not counted here
        base_delay=hooks.retry_base_seconds,
        max_delay=hooks.retry_max_delay_seconds,
        jitter=0.5,
        rand=rand,
    )


async def deliver(
    ctx: JobContext,
    *,
    vault: Vault,
    settings: Settings,
    sender: Sender,
    backoff: RetryStrategy,
    delivery_id: uuid.UUID,
) -> str:
    async with ctx.fenced() as session:
        attempt = await prepare(session, vault, delivery_id, now=ctx.now())
    if attempt is None:
        return str(Settled.skipped)
    # The network call holds no transaction (and, on SQLite, no write lock).
    result = await sender.send(attempt, ctx.now())
    window = dt.timedelta(seconds=settings.webhooks.retry_window_seconds)
    async with ctx.fenced() as session:
        settled = await settle(
            session, delivery_id, result, now=ctx.now(), backoff=backoff, window=window
        )
    # Counted once the outcome is committed; a skipped run attempted nothing.
    outcome = _OUTCOMES.get(settled)
    if outcome is not None:
        metrics.webhook_delivery(outcome)
    return str(settled)


_OUTCOMES: dict[Settled, metrics.WebhookOutcome] = {
    Settled.delivered: "delivered",
    Settled.retrying: "retrying",
    Settled.failed: "failed",
    Settled.disabled: "failed",
}


def register(
    registry: TaskRegistry,
    settings: Settings,
    vault: Vault,
    *,
    resolver: Resolver | None,
    rand: Callable[[], float],
) -> None:
    sender = Sender(settings, resolver=resolver)
    backoff = backoff_for(settings, rand)

    # Only an unexpected error (the database, say) retries the job itself.
    @registry.task(DELIVER_TASK, retry=RetryStrategy(max_attempts=10, base_delay=5.0))
    async def webhook_deliver(ctx: JobContext, *, delivery_id: str) -> str:
        return await deliver(
            ctx,
            vault=vault,
            settings=settings,
            sender=sender,
            backoff=backoff,
            delivery_id=uuid.UUID(delivery_id),
        )
