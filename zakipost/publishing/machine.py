"""The one writer of a post's status and step; every change leaves a timeline event.

No other code assigns ``post.status`` or ``post.step``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.kit.clock import utcnow
from zakipost.models.post import Post
from zakipost.models.post_event import PostEvent
from zakipost.publishing.states import ALLOWED, TERMINAL, PostStatus, PostStep


class IllegalTransition(Exception):
    """A status change the state machine does not allow (a bug, or a lost race)."""

    def __init__(self, current: PostStatus, target: PostStatus) -> None:
        super().__init__(f"a post cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: PostStatus, target: PostStatus) -> bool:
    return target in ALLOWED[current]


def new_post_status(
    post: Post, status: PostStatus, message: str, *, now: dt.datetime | None = None
) -> PostEvent:
    """The status a post is born with, and its first timeline line."""
    post.status = status
    post.step = None
    return PostEvent(post_id=post.id, at=now or utcnow(), status=status.value, message=message)


def transition(
    session: AsyncSession,
    post: Post,
    target: PostStatus,
    message: str,
    *,
    step: PostStep | None = None,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> PostEvent:
    """Move ``post`` to ``target`` (and ``step``), or raise ``IllegalTransition``."""
    if target is not post.status and not can_transition(post.status, target):
        raise IllegalTransition(post.status, target)
    at = now or utcnow()
    post.status = target
    post.step = step
    if target in TERMINAL or target is PostStatus.in_inbox:
        post.finished_at = post.finished_at or at
    event = PostEvent(
        post_id=post.id,
        at=at,
        status=target.value,
        step=step.value if step else None,
        message=message,
        details=details,
    )
    session.add(event)
    return event


def note(
    session: AsyncSession,
    post: Post,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> PostEvent:
    """A timeline line that changes nothing (progress, adjustments, retries)."""
    event = PostEvent(
        post_id=post.id,
        at=now or utcnow(),
        status=post.status.value,
        step=post.step.value if post.step else None,
        message=message,
        details=details,
    )
    session.add(event)
    return event
