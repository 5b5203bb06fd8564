"""What TikTok's webhooks change: posts by their publish id, connections by open_id.

A post moves only through the publish machine (``apply_finish`` / ``apply_failure``), the
same rules a poll applies, so whichever of the webhook and the poll comes first wins and the
other finds the post already ended. Polling stays as the safety net: TikTok's webhooks are
at-least-once, may be late, and may not be configured at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.connection import service as connection_service
from zakipost.db import dialect
from zakipost.logging import get_logger
from zakipost.models import Connection, ConnectionStatus, Post, TikTokWebhookEvent
from zakipost.publishing import machine
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.failures import from_fail_reason
from zakipost.publishing.states import TERMINAL, PostStatus
from zakipost.tiktok import (
    InvalidWebhook,
    WebhookEvent,
    WebhookEventName,
    parse_webhook,
    verify_webhook_signature,
)
from zakipost.tiktok_webhook.errors import InvalidTikTokSignature, MalformedTikTokWebhook

log = get_logger(__name__)

# authorization.removed's reason codes (api-facts.md §8).
REMOVAL_REASONS = {
    1: "the creator disconnected ZakiPost in the TikTok app",
    2: "the TikTok account was deleted",
    3: "the creator's age changed",
    4: "the TikTok account was banned",
    5: "the TikTok app's developer revoked the authorization",
}


def verify(
    header: str | None, body: bytes, client_secret: str, *, now: dt.datetime, tolerance: float
) -> WebhookEvent:
    """The event, once its signature matches and is recent; refuses anything else."""
    if not verify_webhook_signature(header, body, client_secret, now=now, tolerance=tolerance):
        raise InvalidTikTokSignature()
    try:
        return parse_webhook(body)
    except InvalidWebhook as exc:
        raise MalformedTikTokWebhook(f"The body is not a TikTok webhook event: {exc}.") from None


async def receive(deps: PipelineDeps, event: WebhookEvent, body: bytes) -> str:
    """Apply a verified event once; what happened, in a word or two."""
    outcome = await _receive(deps, event, body)
    log.info("tiktok_webhook", tiktok_event=event.event, outcome=outcome)
    return outcome


async def _receive(deps: PipelineDeps, event: WebhookEvent, body: bytes) -> str:
    now = deps.clock()
    digest = hashlib.sha256(body).hexdigest()
    ended: Post | None = None
    async with deps.sessionmaker() as session, session.begin():
        fresh = await dialect.insert_if_absent(
            session,
            TikTokWebhookEvent.__table__,  # type: ignore[arg-type]
            {"digest": digest, "event": event.event[:64], "received_at": now},
        )
        if not fresh:
            return "duplicate"
        if event.event == WebhookEventName.AUTHORIZATION_REMOVED:
            return await _authorization_removed(session, event)
        if not event.event.startswith("post.publish.") or not event.publish_id:
            return "ignored"
        post = await session.scalar(
            select(Post).where(Post.tiktok_publish_id == event.publish_id).with_for_update()
        )
        if post is None:
            return "unknown publish_id"
        result = await _post_event(session, deps, post, event, now)
        if result in ("published", "failed", "in_inbox"):
            ended = post
    if ended is not None:
        # As a poll's finish does: what the post fetched or prepared is no longer needed.
        await machine.release_media(deps, ended, now=now)
    return result


async def _post_event(
    session: AsyncSession, deps: PipelineDeps, post: Post, event: WebhookEvent, now: dt.datetime
) -> str:
    name = event.event
    if name == WebhookEventName.POST_PUBLISH_PUBLICLY_AVAILABLE:
        if event.post_id and machine.record_link(session, post, [event.post_id], now=now):
            return "link stored"
        return "link known"
    if name == WebhookEventName.POST_PUBLISH_NO_LONGER_PUBLICLY_AVAILABLE:
        machine.note(
            session,
            post,
            "TikTok says the post is no longer publicly available (moderation or the creator).",
            now=now,
            details={"post_id": event.post_id},
        )
        return "noted"
    if post.status in TERMINAL:
        return "already ended"
    if name == WebhookEventName.POST_PUBLISH_COMPLETE:
        finish = machine.Finish(PostStatus.published, "Published on TikTok (TikTok's webhook).")
    elif name == WebhookEventName.POST_PUBLISH_INBOX_DELIVERED:
        if post.status is PostStatus.in_inbox:
            return "already in inbox"
        finish = machine.Finish(
            PostStatus.in_inbox,
            "Sent to the creator's TikTok inbox; they open TikTok's notification to finish it.",
        )
    elif name == WebhookEventName.POST_PUBLISH_FAILED:
        failure = from_fail_reason(event.fail_reason)
        if not machine.can_transition(post.status, PostStatus.failed):
            return "not applicable"
        await machine.apply_failure(session, post, failure, deps.settings.billing, now=now)
        return "failed"
    else:
        return "ignored"
    if not machine.can_transition(post.status, finish.status):
        return "not applicable"
    await machine.apply_finish(session, post, finish, now=now)
    return finish.status.value


async def _authorization_removed(session: AsyncSession, event: WebhookEvent) -> str:
    if not event.user_openid:
        return "ignored"
    rows = (
        await session.scalars(
            select(Connection).where(Connection.open_id == event.user_openid).with_for_update()
        )
    ).all()
    why = REMOVAL_REASONS.get(event.removal_reason or 0, "TikTok removed the authorization")
    revoked = 0
    for row in rows:
        if row.status is ConnectionStatus.revoked:
            continue
        connection_service.mark_revoked(
            session, row, f"TikTok says {why}; connect the account again to publish."
        )
        revoked += 1
    return f"revoked {revoked}"
