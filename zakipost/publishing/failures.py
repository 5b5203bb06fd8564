"""Why a post failed, in words a person understands, and whether retrying can help."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zakipost import layout
from zakipost.config import Settings
from zakipost.tiktok import describe_fail_reason

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class PostFailure(Exception):
    """Ends a post as failed. ``caller_error``: the request itself must change."""

    code: str
    message: str
    retryable: bool = False
    caller_error: bool = False
    fail_reason: str | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class PostDeferred(Exception):
    """Not now: try again at ``until`` (a rate limit, the daily cap, polling).

    ``learnt``: a change of the locked post recording what the step learnt just before
    (TikTok's status), for the deferral's own write: no I/O comes between them."""

    until: dt.datetime
    reason: str
    learnt: Callable[[AsyncSession, Any], None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class PostUndetermined(Exception):
    """TikTok may or may not have the post, and there is no way to ask: never re-send."""

    message: str


# fail_reasons that describe the media or the caption the caller sent.
_CALLER_REASONS = frozenset(
    {
        "file_format_check_failed",
        "duration_check_failed",
        "frame_rate_check_failed",
        "picture_size_check_failed",
        "spam_risk_text",
        "video_pull_failed",
        "photo_pull_failed",
    }
)


def from_fail_reason(reason: str | None) -> PostFailure:
    info = describe_fail_reason(reason)
    return PostFailure(
        code=reason or "tiktok_failed",
        message=info.message,
        retryable=info.retryable,
        caller_error=(reason or "") in _CALLER_REASONS,
        fail_reason=reason,
    )


def not_in_store(settings: Settings, key: str) -> PostFailure:
    """An upload the web accepted that the worker's store does not have: the deployment's
    fault (web and worker on different stores), not the caller's, so it is refunded."""
    return PostFailure("media_not_in_store", layout.missing_media_message(settings, key))
