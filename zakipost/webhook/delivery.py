"""One delivery attempt: freeze the body, sign, POST through the address guard, and settle.

:func:`settle` is the one place an attempt's outcome is decided (delivered, retried later,
failed for good, endpoint disabled): whoever counts deliveries hooks in there.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost import __version__
from zakipost.config import Settings
from zakipost.connection.schemas import TikTokAccountOut
from zakipost.kit.crypto import Vault
from zakipost.logging import get_logger
from zakipost.media import AddressPolicy, GuardedTransport, MediaError, Resolver
from zakipost.models import Connection, DeliveryStatus, Post, WebhookDelivery, WebhookEndpoint
from zakipost.post import service as post_service
from zakipost.post.schemas import PostOut
from zakipost.webhook import signing
from zakipost.webhook.errors import WebhookUrlRefused
from zakipost.webhook.outbox import DELIVER_TASK, delivery_job_lock
from zakipost.webhook.repository import WebhookRepository
from zakipost.webhook.service import check_url, signing_secrets
from zakipost.worker import RetryStrategy, enqueue
from zakipost.worker.retry import truncate

log = get_logger(__name__)

USER_AGENT = f"ZakiPost-Webhooks/{__version__}"


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt sends: the same id and body every time, signed afresh."""

    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    url: str
    body: str
    secrets: list[str]


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    # False when nothing left this server (the address was refused before connecting).
    sent: bool = True

    @property
    def succeeded(self) -> bool:
        """Standard Webhooks: any 2xx answer means delivered."""
        return self.status_code is not None and 200 <= self.status_code < 300


class Settled(enum.StrEnum):
    """What :func:`settle` decided."""

    delivered = "delivered"  # the endpoint answered 2xx
    retrying = "retrying"  # failed; another attempt is queued at next_attempt_at
    failed = "failed"  # failed, and the retry window is over
    disabled = "disabled"  # failed for good, and the endpoint was switched off with it
    skipped = "skipped"  # nothing to do (delivered or deleted meanwhile)


async def prepare(
    session: AsyncSession, vault: Vault, delivery_id: uuid.UUID, *, now: dt.datetime
) -> Attempt | None:
    """The attempt to make, or None when there is none: the delivery is no longer pending,
    is gone, or its endpoint is switched off (then it fails, saying so). The first attempt
    builds the body and freezes it into the row."""
    repository = WebhookRepository.from_session(session)
    delivery = await repository.delivery(delivery_id, lock=True)
    if delivery is None or delivery.status is not DeliveryStatus.pending:
        return None
    endpoint = await repository.endpoint(delivery.endpoint_id)
    if endpoint is None:
        return None
    if not endpoint.enabled:
        delivery.status = DeliveryStatus.failed
        delivery.next_attempt_at = None
        delivery.last_error = "Not sent: the endpoint is disabled."
        delivery.updated_at = now
        return None
    if delivery.body is None:
        delivery.body = await build_body(session, delivery)
    return Attempt(
        delivery.id, endpoint.id, endpoint.url, delivery.body, signing_secrets(vault, endpoint, now)
    )


async def build_body(session: AsyncSession, delivery: WebhookDelivery) -> str:
    """``{"type", "timestamp", "event_id", "data"}``: data is the object the API returns
    for the post or connection (as it is now), for webhook.test a short note."""
    payload: dict[str, Any] = {
        "type": delivery.event_type,
        "timestamp": delivery.created_at.isoformat().replace("+00:00", "Z"),
        "event_id": str(delivery.event_id),
        "data": await _data(session, delivery),
    }
    if delivery.details:
        payload["details"] = delivery.details
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


async def _data(session: AsyncSession, delivery: WebhookDelivery) -> dict[str, Any]:
    if delivery.subject_kind == "post":
        publish_id = await session.scalar(
            select(Post.publish_id).where(
                Post.id == delivery.subject_id, Post.account_id == delivery.account_id
            )
        )
        if publish_id is None:
            return {"id": str(delivery.subject_id)}
        detail = await post_service.detail(session, delivery.account_id, publish_id)
        out = PostOut.of(
            detail.post, detail.tiktok_account_id, detail.events, username=detail.username
        )
        return out.model_dump(mode="json")
    if delivery.subject_kind == "connection":
        connection = await session.get(Connection, delivery.subject_id)
        if connection is None or connection.account_id != delivery.account_id:
            return {"id": str(delivery.subject_id)}
        return TikTokAccountOut.of(connection).model_dump(mode="json")
    return {
        "webhook_id": str(delivery.endpoint_id),
        "message": "A test event from ZakiPost: this endpoint receives and verifies webhooks.",
    }


class Sender:
    """POSTs attempts through the media address guard (the address is checked at connect
    time, so DNS cannot change between the check and the connection), without following
    redirects, under ``ZAKIPOST_WEBHOOKS_*``."""

    def __init__(self, settings: Settings, *, resolver: Resolver | None = None) -> None:
        self.settings = settings
        self.resolver = resolver

    async def send(self, attempt: Attempt, now: dt.datetime) -> AttemptResult:
        hooks = self.settings.webhooks
        try:
            # The URL passed the check when it was saved; settings may have changed since.
            await check_url(self.settings, attempt.url, resolver=self.resolver)
        except WebhookUrlRefused as exc:
            return AttemptResult(None, f"Not sent: {exc.message}", sent=False)
        headers = signing.headers(str(attempt.delivery_id), now, attempt.body, attempt.secrets)
        headers["content-type"] = "application/json"
        headers["user-agent"] = USER_AGENT
        policy = AddressPolicy(hooks.allow_private_networks, hooks.allowed_networks)
        transport = GuardedTransport(policy=policy, resolver=self.resolver)
        try:
            async with (
                httpx.AsyncClient(
                    transport=transport, follow_redirects=False, timeout=hooks.timeout_seconds
                ) as client,
                client.stream(
                    "POST", attempt.url, content=attempt.body.encode(), headers=headers
                ) as response,
            ):
                code = response.status_code
        except MediaError as exc:
            return AttemptResult(None, f"Not sent: {exc.message}", sent=False)
        except httpx.TimeoutException:
            return AttemptResult(None, f"No answer within {hooks.timeout_seconds:g} s.")
        except httpx.HTTPError as exc:
            return AttemptResult(None, truncate(f"{type(exc).__name__}: {exc}", 500))
        if 200 <= code < 300:
            return AttemptResult(code, None)
        if 300 <= code < 400:
            return AttemptResult(code, f"Answered HTTP {code}; redirects are not followed.")
        return AttemptResult(code, f"Answered HTTP {code}.")


async def settle(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    result: AttemptResult,
    *,
    now: dt.datetime,
    backoff: RetryStrategy,
    window: dt.timedelta,
) -> Settled:
    """Record one attempt and decide what comes of it, in the job's fenced transaction:
    delivered on 2xx; otherwise another attempt after the backoff, the last one at the end
    of the retry window; past it the delivery fails, and when the endpoint took nothing
    since that delivery's event, the endpoint is switched off with the reason."""
    repository = WebhookRepository.from_session(session)
    delivery = await repository.delivery(delivery_id, lock=True)
    if delivery is None or delivery.status is not DeliveryStatus.pending:
        return Settled.skipped
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    delivery.updated_at = now
    if result.succeeded:
        delivery.status = DeliveryStatus.succeeded
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        return Settled.delivered
    deadline = delivery.retry_until or delivery.created_at + window
    if now < deadline:
        run_at = min(now + backoff.delay(delivery.attempts), deadline)
        delivery.next_attempt_at = run_at
        lock = delivery_job_lock(delivery.id)
        await enqueue(
            session,
            DELIVER_TASK,
            {"delivery_id": str(delivery.id)},
            run_at=run_at,
            lock=lock,
            queueing_lock=lock,
            now=now,
        )
        return Settled.retrying
    delivery.status = DeliveryStatus.failed
    delivery.next_attempt_at = None
    delivery.last_error = truncate(
        f"{result.error} Gave up after {delivery.attempts} attempts over "
        f"{_span(now - delivery.created_at)}."
    )
    if await _disable_if_dead(session, delivery, now):
        return Settled.disabled
    return Settled.failed


async def _disable_if_dead(
    session: AsyncSession, delivery: WebhookDelivery, now: dt.datetime
) -> bool:
    repository = WebhookRepository.from_session(session)
    if await repository.delivered_since(delivery.endpoint_id, delivery.created_at):
        return False
    endpoint: WebhookEndpoint | None = await repository.endpoint(delivery.endpoint_id, lock=True)
    if endpoint is None or not endpoint.enabled:
        return False
    endpoint.enabled = False
    endpoint.disabled_reason = (
        f"Switched off on {now:%Y-%m-%d %H:%M} UTC: no delivery succeeded since "
        f"{delivery.created_at:%Y-%m-%d %H:%M} UTC, for the whole retry window "
        f"({delivery.last_error}). Fix the receiver, enable the endpoint again, and retry "
        "the failed deliveries from its log."
    )
    endpoint.updated_at = now
    log.warning("webhook_endpoint_disabled", endpoint_id=str(endpoint.id))
    return True


def _span(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
