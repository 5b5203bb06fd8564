"""The creator's rolling 24-hour window, and the one owner of it.

TikTok caps Direct Posts per creator in any 24 hours (about 15, varying by creator, shared by
every app) and allows 5 drafts waiting in the inbox. ZakiPost counts its own submissions:
a post's ``submitted_at`` is its slot in the window, taken before the init (:func:`reserve`),
moved to the moment TikTok gets the post (:func:`mark_submitted`) and given back when TikTok
never had it (:func:`release`). This module is the only writer of ``submitted_at`` and the
only reader of the window; the connection and post domains ask it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.errors import AppError
from zakipost.kit.clock import utcnow
from zakipost.models import Connection, Post, PostMode
from zakipost.publishing.schemas import PENDING_DRAFTS_LIMIT, CapState
from zakipost.publishing.states import PostStatus

DAY = dt.timedelta(hours=24)
# TikTok refused for the cap although ZakiPost saw no post in the window: try again then.
UNSEEN_SLOT_WAIT = dt.timedelta(hours=1)


class TooManyPendingDrafts(AppError):
    status_code = 429
    code = "too_many_pending_drafts"


@dataclass(frozen=True, slots=True)
class Window:
    """The creator's cap and the other posts' submissions in the 24 hours before ``now``."""

    cap: int
    submitted: tuple[dt.datetime, ...]  # oldest first
    now: dt.datetime

    @property
    def full(self) -> bool:
        return len(self.submitted) >= self.cap

    def next_free_slot(self) -> dt.datetime:
        """When the oldest submission leaves the window, as far as ZakiPost has seen."""
        return self.submitted[0] + DAY if self.submitted else self.now + UNSEEN_SLOT_WAIT


# Built once, the values bound at execution: every post reads its window once or twice.
_SUBMISSIONS = (
    select(Post.submitted_at)
    .where(
        Post.connection_id == bindparam("connection_id"),
        Post.submitted_at > bindparam("since"),
        Post.id != bindparam("post_id"),
    )
    .order_by(Post.submitted_at)
)
# The cap alone, not the whole connection (tokens and all); locked to take a slot.
_CAP = select(Connection.daily_post_cap).where(Connection.id == bindparam("connection_id"))
_CAP_LOCKED = _CAP.with_for_update()


async def _submissions(
    session: AsyncSession, post: Post, now: dt.datetime
) -> tuple[dt.datetime, ...]:
    params = {"connection_id": post.connection_id, "since": now - DAY, "post_id": post.id}
    rows = await session.scalars(_SUBMISSIONS, params)
    return tuple(at for at in rows.all() if at is not None)


async def _cap(session: AsyncSession, post: Post, *, lock: bool) -> int:
    cap: int | None = await session.scalar(
        _CAP_LOCKED if lock else _CAP, {"connection_id": post.connection_id}
    )
    assert cap is not None, "a post is deleted with its connection"
    return cap


async def _connection(session: AsyncSession, post: Post, *, lock: bool) -> Connection:
    connection = await session.get(Connection, post.connection_id, with_for_update=lock)
    assert connection is not None, "a post is deleted with its connection"
    return connection


async def window(session: AsyncSession, post: Post, now: dt.datetime) -> Window:
    """The window ``post`` would be sent into (its own slot not counted)."""
    cap = await _cap(session, post, lock=False)
    return Window(cap, await _submissions(session, post, now), now)


async def reserve(session: AsyncSession, post: Post, now: dt.datetime) -> Window | None:
    """Take a slot for ``post`` before its init: None when it has one, else the full window.

    Under the connection's row lock, so posts processed at once by several workers cannot
    all squeeze into the last slot. ``post`` must be the session's (locked) row. Drafts take
    no slot."""
    if post.post_mode is PostMode.draft:
        return None
    cap = await _cap(session, post, lock=True)
    seen = Window(cap, await _submissions(session, post, now), now)
    if seen.full:
        return seen
    post.submitted_at = post.submitted_at or now
    return None


def mark_submitted(post: Post, now: dt.datetime) -> None:
    """TikTok gets the post now (the final chunk, a photo init): its slot starts now."""
    post.submitted_at = now


def release(post: Post) -> None:
    """Give the slot back if TikTok never had the post (no publish id)."""
    if post.tiktok_publish_id is None:
        post.submitted_at = None


async def learn(session: AsyncSession, post: Post, now: dt.datetime) -> None:
    """TikTok says the creator reached its cap: its cap is what the window holds (TikTok's
    cap varies by creator), if that is lower than the one known."""
    sent = len(await _submissions(session, post, now))
    connection = await _connection(session, post, lock=True)
    if sent:
        connection.daily_post_cap = min(connection.daily_post_cap, sent)


async def state(
    session: AsyncSession, connection: Connection, now: dt.datetime | None = None
) -> CapState:
    """Direct posts submitted and drafts sent in the last 24 hours, and when the next slot
    frees (for the account pages)."""
    since = (now or utcnow()) - DAY
    submitted = (
        await session.scalars(
            select(Post.submitted_at)
            .where(
                Post.connection_id == connection.id,
                Post.post_mode == PostMode.direct,
                Post.submitted_at > since,
            )
            .order_by(Post.submitted_at)
        )
    ).all()
    drafts = await session.scalar(
        select(func.count())
        .select_from(Post)
        .where(
            Post.connection_id == connection.id,
            Post.post_mode == PostMode.draft,
            Post.created_at > since,
            Post.status.not_in([PostStatus.cancelled, PostStatus.published]),
        )
    )
    full = len(submitted) >= connection.daily_post_cap
    return CapState(
        daily_post_cap=connection.daily_post_cap,
        posts_last_24h=len(submitted),
        next_free_slot_at=(submitted[0] + DAY) if full and submitted[0] else None,
        pending_drafts=int(drafts or 0),
    )


async def check_pending_drafts(
    session: AsyncSession, connection_id: uuid.UUID, now: dt.datetime | None = None
) -> None:
    """TikTok allows 5 pending inbox shares per creator in any 24 hours; refuse the sixth
    here instead of letting TikTok refuse it later."""
    since = (now or utcnow()) - DAY
    rows = (
        await session.execute(
            select(Post.created_at).where(
                Post.connection_id == connection_id,
                Post.post_mode == PostMode.draft,
                Post.created_at > since,
                Post.status.not_in([PostStatus.cancelled, PostStatus.published]),
                or_(Post.status != PostStatus.failed, Post.tiktok_publish_id.is_not(None)),
            )
        )
    ).all()
    if len(rows) >= PENDING_DRAFTS_LIMIT:
        free_at = min(r[0] for r in rows) + DAY
        raise TooManyPendingDrafts(
            f"TikTok accepts at most {PENDING_DRAFTS_LIMIT} drafts waiting in a creator's inbox "
            f"within 24 hours; this account has {len(rows)}. The creator can post or delete "
            f"drafts in the TikTok app; the next slot frees at {free_at:%Y-%m-%d %H:%M} UTC.",
            details={"pending_drafts": len(rows), "next_slot_at": free_at.isoformat()},
        )
