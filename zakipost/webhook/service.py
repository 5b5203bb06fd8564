"""Webhook endpoints: creation, changes, secret rotation, the deliveries log, retry, test."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.config import Settings
from zakipost.errors import Conflict, ValidationFailed
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import Vault
from zakipost.media import MediaError, Resolver, check_url_address
from zakipost.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from zakipost.pagination import Cursor
from zakipost.webhook import signing
from zakipost.webhook.errors import (
    DeliveryNotFound,
    UnknownEventType,
    WebhookNotFound,
    WebhookUrlRefused,
)
from zakipost.webhook.outbox import DELIVER_TASK, add_delivery, delivery_job_lock
from zakipost.webhook.repository import WebhookRepository
from zakipost.webhook.schemas import EVENT_TYPES, TEST_EVENT, WebhookCreate, WebhookUpdate
from zakipost.worker import enqueue, move_job

_MEDIA_RULE = "ZakiPost only fetches media from public internet addresses"
_WEBHOOK_RULE = "ZakiPost only sends webhooks to public internet addresses"


async def check_url(settings: Settings, url: str, *, resolver: Resolver | None = None) -> str:
    """Refuse (422, saying why) a URL webhooks may not go to: not https (http only while
    ZAKIPOST_WEBHOOKS_ALLOW_PRIVATE_NETWORKS is on), or a host on an address the media
    guard forbids. Deliveries check the address again when they connect."""
    hooks = settings.webhooks
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise WebhookUrlRefused(f"The webhook URL could not be read: {exc}.") from None
    if parsed.scheme != "https" and not (parsed.scheme == "http" and hooks.allow_private_networks):
        allowed = (
            "https:// (or http://, allowed here for development)"
            if hooks.allow_private_networks
            else "https://"
        )
        raise WebhookUrlRefused(
            f"A webhook URL must start with {allowed}.", details={"field": "url"}
        )
    try:
        await check_url_address(
            url,
            allow_private_networks=hooks.allow_private_networks,
            allowed_networks=hooks.allowed_networks,
            resolver=resolver,
            resolve_timeout=hooks.timeout_seconds,
        )
    except MediaError as exc:
        message = exc.message.replace(_MEDIA_RULE, _WEBHOOK_RULE).replace("media URL", "URL")
        raise WebhookUrlRefused(message, details={"field": "url"}) from None
    return str(parsed)


def check_events(wanted: list[str] | None) -> list[str] | None:
    """The subscription to store; 422 listing the valid types for an unknown one."""
    if wanted is None:
        return None
    unknown = sorted({name for name in wanted if name not in EVENT_TYPES})
    if unknown:
        raise UnknownEventType(
            f"Unknown event type(s): {', '.join(unknown)}. Valid types: {', '.join(EVENT_TYPES)}.",
            details={"field": "events", "unknown": unknown, "valid": list(EVENT_TYPES)},
        )
    if not wanted:
        raise ValidationFailed(
            "events is empty: list the event types wanted, or send null for all of them.",
            details={"field": "events", "valid": list(EVENT_TYPES)},
        )
    return list(dict.fromkeys(wanted))


async def create(
    session: AsyncSession,
    settings: Settings,
    vault: Vault,
    account_id: uuid.UUID,
    body: WebhookCreate,
    *,
    resolver: Resolver | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (the only time the secret is returned)."""
    events = check_events(body.events)
    url = await check_url(settings, body.url, resolver=resolver)
    endpoint_id = uuid.uuid4()
    secret = signing.new_secret()
    now = utcnow()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        account_id=account_id,
        url=url,
        events=events,
        description=body.description,
        enabled=True,
        secret_encrypted=vault.seal(secret, context=signing.secret_context(endpoint_id)),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint, secret


async def list_for(session: AsyncSession, account_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
    return await WebhookRepository.from_session(session).endpoints_of(account_id)


async def get_for(
    session: AsyncSession, account_id: uuid.UUID, endpoint_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint:
    """One of the account's endpoints; anyone else's is a 404."""
    endpoint = await WebhookRepository.from_session(session).endpoint(
        endpoint_id, account_id=account_id, lock=lock
    )
    if endpoint is None:
        raise WebhookNotFound(f"No webhook endpoint {endpoint_id}.")
    return endpoint


async def update(
    session: AsyncSession,
    settings: Settings,
    vault: Vault,
    account_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    changes: WebhookUpdate,
    *,
    resolver: Resolver | None = None,
) -> tuple[WebhookEndpoint, str | None]:
    """Apply the fields sent; with ``rotate_secret`` the new secret is returned (once)."""
    endpoint = await get_for(session, account_id, endpoint_id, lock=True)
    sent = changes.model_fields_set
    if changes.overlap_seconds is not None and not changes.rotate_secret:
        raise ValidationFailed(
            "overlap_seconds only applies with rotate_secret: true.",
            details={"field": "overlap_seconds"},
        )
    if "url" in sent:
        if changes.url is None:
            raise ValidationFailed("url cannot be null.", details={"field": "url"})
        endpoint.url = await check_url(settings, changes.url, resolver=resolver)
    if "events" in sent:
        endpoint.events = check_events(changes.events)
    if "description" in sent:
        endpoint.description = changes.description
    if "enabled" in sent and changes.enabled is not None:
        endpoint.enabled = changes.enabled
        if changes.enabled:
            endpoint.disabled_reason = None
    secret = None
    if changes.rotate_secret:
        overlap = (
            changes.overlap_seconds
            if changes.overlap_seconds is not None
            else settings.webhooks.rotation_overlap_seconds
        )
        secret = rotate_secret(vault, endpoint, dt.timedelta(seconds=overlap), now=utcnow())
    endpoint.updated_at = utcnow()
    await session.flush()
    return endpoint, secret


def rotate_secret(
    vault: Vault, endpoint: WebhookEndpoint, overlap: dt.timedelta, *, now: dt.datetime
) -> str:
    """A new secret; the current one keeps signing beside it for ``overlap``."""
    secret = signing.new_secret()
    if overlap > dt.timedelta():
        current = vault.open(endpoint.secret_encrypted, context=signing.secret_context(endpoint.id))
        endpoint.previous_secret_encrypted = vault.seal(
            current, context=signing.previous_secret_context(endpoint.id)
        )
        endpoint.previous_secret_expires_at = now + overlap
    else:
        endpoint.previous_secret_encrypted = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret_encrypted = vault.seal(secret, context=signing.secret_context(endpoint.id))
    endpoint.secret_rotated_at = now
    return secret


def signing_secrets(vault: Vault, endpoint: WebhookEndpoint, now: dt.datetime) -> list[str]:
    """The secrets that sign a message sent at ``now``: the current one, and the previous
    one while its overlap lasts."""
    found = [vault.open(endpoint.secret_encrypted, context=signing.secret_context(endpoint.id))]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and now < expires:
        found.append(
            vault.open(
                endpoint.previous_secret_encrypted,
                context=signing.previous_secret_context(endpoint.id),
            )
        )
    return found


async def delete(session: AsyncSession, account_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    """Delete the endpoint and its deliveries; their queued jobs find nothing and end."""
    endpoint = await get_for(session, account_id, endpoint_id, lock=True)
    await session.delete(endpoint)
    await session.flush()


async def deliveries(
    session: AsyncSession,
    account_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    limit: int = 20,
    cursor: Cursor | None = None,
) -> tuple[list[WebhookDelivery], Cursor | None]:
    """The endpoint's deliveries, newest first."""
    await get_for(session, account_id, endpoint_id)
    rows = list(
        await WebhookRepository.from_session(session).deliveries_page(
            endpoint_id,
            limit=limit + 1,
            before=cursor.key if cursor is not None else None,
        )
    )
    page = rows[:limit]
    following = Cursor(page[-1].created_at, page[-1].id) if page and len(rows) > limit else None
    return page, following


async def retry(
    session: AsyncSession,
    settings: Settings,
    account_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> WebhookDelivery:
    """Send the delivery again now (same webhook-id, same body), with a new retry window."""
    await get_for(session, account_id, endpoint_id)
    delivery = await WebhookRepository.from_session(session).delivery(
        delivery_id, endpoint_id=endpoint_id, lock=True
    )
    if delivery is None:
        raise DeliveryNotFound(f"No delivery {delivery_id} of webhook endpoint {endpoint_id}.")
    now = utcnow()
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = now
    delivery.retry_until = now + dt.timedelta(seconds=settings.webhooks.retry_window_seconds)
    delivery.updated_at = now
    lock = delivery_job_lock(delivery.id)
    if not await move_job(session, lock, now, now=now):
        await enqueue(
            session,
            DELIVER_TASK,
            {"delivery_id": str(delivery.id)},
            run_at=now,
            lock=lock,
            queueing_lock=lock,
            now=now,
        )
    await session.flush()
    return delivery


async def send_test(
    session: AsyncSession, account_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookDelivery:
    """Queue a ``webhook.test`` event for this endpoint only."""
    endpoint = await get_for(session, account_id, endpoint_id)
    if not endpoint.enabled:
        raise Conflict("The endpoint is disabled; enable it first, then send the test.")
    now = utcnow()
    delivery = await session.run_sync(
        lambda sync: add_delivery(
            sync,
            endpoint,
            event_id=uuid.uuid4(),
            event_type=TEST_EVENT,
            subject_kind="endpoint",
            subject_id=endpoint.id,
            details={},
            now=now,
        )
    )
    await session.flush()
    return delivery
