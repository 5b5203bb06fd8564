"""Every query that reads posts and their timelines. Reads that show a post join the
connection's public id (``internal_token``) instead of looking it up per post."""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.models import Connection, Post, PostEvent
from zakipost.publishing.states import PostStatus


@dataclass(frozen=True, slots=True)
class PostRow:
    """A post with the ``tiktok_account_id`` callers know its connection by."""

    post: Post
    tiktok_account_id: str
    # The creator's TikTok username, for the post's link.
    username: str | None = None


def _with_account_id() -> Select[Post, uuid.UUID, str | None]:
    return select(Post, Connection.internal_token, Connection.username).join(
        Connection, Connection.id == Post.connection_id
    )


_Q = typing.TypeVar("_Q", bound=Select[*tuple[typing.Any, ...]])


def _filtered(
    query: _Q,
    status: PostStatus | None,
    statuses: Collection[PostStatus] | None,
    connection_id: uuid.UUID | None,
) -> _Q:
    if status is not None:
        query = query.where(Post.status == status)
    if statuses is not None:
        query = query.where(Post.status.in_(list(statuses)))
    if connection_id is not None:
        query = query.where(Post.connection_id == connection_id)
    return query


class PostRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> PostRepository:
        return cls(session)

    async def get_by_publish_id(
        self, account_id: uuid.UUID, publish_id: str, *, lock: bool = False
    ) -> Post | None:
        query = select(Post).where(Post.publish_id == publish_id, Post.account_id == account_id)
        return (await self.session.scalars(query.with_for_update() if lock else query)).first()

    async def get_row(self, account_id: uuid.UUID, publish_id: str) -> PostRow | None:
        row = (
            await self.session.execute(
                _with_account_id().where(
                    Post.publish_id == publish_id, Post.account_id == account_id
                )
            )
        ).first()
        return PostRow(row[0], str(row[1]), row[2]) if row is not None else None

    async def page(
        self,
        account_id: uuid.UUID,
        *,
        status: PostStatus | None = None,
        connection_id: uuid.UUID | None = None,
        limit: int = 50,
        before: tuple[dt.datetime, uuid.UUID] | None = None,
        statuses: Collection[PostStatus] | None = None,
        offset: int = 0,
    ) -> list[PostRow]:
        """Newest first, ``limit`` rows, strictly older than ``before`` (created_at, id),
        after skipping ``offset`` (for callers that page by number); ``statuses`` keeps
        posts in any of these statuses."""
        query = _with_account_id().where(Post.account_id == account_id)
        query = _filtered(query, status, statuses, connection_id)
        if before is not None:
            created_at, post_id = before
            query = query.where(
                or_(
                    Post.created_at < created_at,
                    and_(Post.created_at == created_at, Post.id < post_id),
                )
            )
        rows = await self.session.execute(
            query.order_by(Post.created_at.desc(), Post.id.desc()).offset(offset).limit(limit)
        )
        return [PostRow(post, str(token), username) for post, token, username in rows.all()]

    async def count(
        self,
        account_id: uuid.UUID,
        *,
        statuses: Collection[PostStatus] | None = None,
        connection_id: uuid.UUID | None = None,
    ) -> int:
        query = select(func.count()).select_from(Post).where(Post.account_id == account_id)
        query = _filtered(query, None, statuses, connection_id)
        return int((await self.session.execute(query)).scalar_one())

    async def timeline(self, post_id: uuid.UUID) -> Sequence[PostEvent]:
        result = await self.session.scalars(
            select(PostEvent).where(PostEvent.post_id == post_id).order_by(PostEvent.id)
        )
        return result.all()
