"""Accepting, reading and listing posts. Acceptance is one transaction: the post, its first
job and the points debit commit together or not at all."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.billing import points
from zakipost.config import Settings
from zakipost.connection import service as connection_service
from zakipost.connection.errors import ConnectionRevoked, ReconnectRequired
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import random_string
from zakipost.media.guard import check_url_syntax
from zakipost.models import (
    Account,
    Connection,
    ConnectionStatus,
    MediaKind,
    Post,
    PostEvent,
    PostMode,
)
from zakipost.post.errors import MissingScope, PostNotFound
from zakipost.post.schemas import VideoPublishRequest
from zakipost.publishing import machine
from zakipost.publishing.states import PostStatus
from zakipost.worker import enqueue

RUN_TASK = "publishing.run"


def new_publish_id() -> str:
    """ZakiPost's own id: ``v_pub_`` + 16 of ``[A-Za-z0-9]``."""
    return "v_pub_" + random_string(16)


def job_lock(post_id: uuid.UUID) -> str:
    return f"post:{post_id}"


def usable_connection(connection: Connection, needed_scope: str) -> Connection:
    if connection.status is ConnectionStatus.reconnect_required:
        raise ReconnectRequired(
            "This TikTok account must be connected again before it can publish: "
            + (connection.status_reason or "TikTok no longer accepts its tokens.")
        )
    if connection.status is ConnectionStatus.revoked:
        raise ConnectionRevoked()
    if needed_scope not in (connection.scopes or []):
        raise MissingScope(
            f"This TikTok account did not grant {needed_scope}; connect it again and allow it."
        )
    return connection


async def enqueue_run(session: AsyncSession, post: Post, run_at: dt.datetime | None = None) -> None:
    await enqueue(
        session,
        RUN_TASK,
        {"post_id": str(post.id)},
        run_at=run_at,
        lock=job_lock(post.id),
        queueing_lock=job_lock(post.id),
    )


async def accept_video(
    session: AsyncSession, settings: Settings, account: Account, request: VideoPublishRequest
) -> Post:
    """Validate against the account's state, charge, store and queue a video post."""
    connection = await connection_service.get_for(session, account.id, request.tiktok_account_id)
    usable_connection(connection, "video.publish")
    check_url_syntax(
        request.video_url,
        allow_private_networks=settings.media.allow_private_networks,
        allowed_networks=settings.media.allowed_networks,
    )
    post = Post(
        id=uuid.uuid4(),
        publish_id=new_publish_id(),
        account_id=account.id,
        connection_id=connection.id,
        kind=MediaKind.video,
        post_mode=PostMode.direct,
        video_url=request.video_url,
        title=request.title,
        privacy_level=request.privacy_level.value if request.privacy_level else None,
        disable_comment=request.disable_comment,
        disable_duet=request.disable_duet,
        disable_stitch=request.disable_stitch,
        brand_content_toggle=request.brand_content_toggle,
        brand_organic_toggle=request.brand_organic_toggle,
        is_aigc=request.ai_generated_content,
        video_cover_timestamp_ms=request.video_cover_timestamp_ms,
        cost_points=settings.billing.publish_cost,
        tiktok_post_ids=[],
        options={},
    )
    await points.debit(
        session,
        account.id,
        settings.billing.publish_cost,
        reason="Publish a video",
        reference=post.publish_id,
    )
    session.add(post)
    session.add(
        machine.new_post_status(post, PostStatus.queued, "Accepted; publishing starts now.")
    )
    await session.flush()
    await enqueue_run(session, post)
    return post


async def get(session: AsyncSession, account_id: uuid.UUID, publish_id: str) -> Post:
    post = (
        await session.scalars(
            select(Post).where(Post.publish_id == publish_id, Post.account_id == account_id)
        )
    ).first()
    if post is None:
        raise PostNotFound(f"No post with publish_id {publish_id!r}.")
    return post


async def timeline(session: AsyncSession, post_id: uuid.UUID) -> list[PostEvent]:
    result = await session.scalars(
        select(PostEvent).where(PostEvent.post_id == post_id).order_by(PostEvent.id)
    )
    return list(result.all())


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: dt.datetime
    post_id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.post_id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        from zakipost.errors import ValidationFailed

        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            created, post_id = raw.split("|")
            return cls(dt.datetime.fromisoformat(created), uuid.UUID(post_id))
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed("cursor is not one this API returned.") from None


async def list_for(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    status: PostStatus | None = None,
    connection_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: Cursor | None = None,
) -> tuple[Sequence[Post], Cursor | None]:
    """Newest first; keyset pagination so pages stay stable while posts are added."""
    query = select(Post).where(Post.account_id == account_id)
    if status is not None:
        query = query.where(Post.status == status)
    if connection_id is not None:
        query = query.where(Post.connection_id == connection_id)
    if cursor is not None:
        query = query.where(
            or_(
                Post.created_at < cursor.created_at,
                and_(Post.created_at == cursor.created_at, Post.id < cursor.post_id),
            )
        )
    rows = (
        await session.scalars(
            query.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit + 1)
        )
    ).all()
    page = rows[:limit]
    following = Cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return page, following


def now() -> dt.datetime:
    return utcnow()
