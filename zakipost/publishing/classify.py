"""Every exception a step can raise, turned into an outcome for ``machine.settle``: one
table, read top to bottom, first match wins.

Exceptions not in the table (a lost lease, a bug) are not the post's to settle: the job's
own retry strategy handles them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zakipost.connection.errors import ConnectionNotFound, ConnectionRevoked, ReconnectRequired
from zakipost.errors import AppError
from zakipost.media.errors import MediaError, MediaRejected
from zakipost.models import Post
from zakipost.publishing.failures import PostDeferred, PostFailure, PostUndetermined
from zakipost.publishing.machine import Deferral, Fail, Outcome, Retry, Undetermined
from zakipost.publishing.states import SUBMITTED_STEPS
from zakipost.tiktok import TikTokError


def _connection_lost(exc: AppError, post: Post) -> Outcome:
    return Fail(PostFailure(exc.code, exc.message))


def _rejected_media(exc: MediaRejected, post: Post) -> Outcome:
    return Fail(PostFailure(exc.code, exc.message, caller_error=True, fail_reason=exc.fail_reason))


def _media(exc: MediaError, post: Post) -> Outcome:
    if exc.retryable:
        return Retry(exc.code, give_up=Fail(PostFailure(exc.code, exc.message, retryable=True)))
    return Fail(PostFailure(exc.code, exc.message, caller_error=True))


def _app_error(exc: AppError, post: Post) -> Outcome:
    return Fail(PostFailure(exc.code, exc.message, caller_error=True))


def _tiktok(exc: TikTokError, post: Post) -> Outcome:
    final: Fail | Undetermined
    if post.step in SUBMITTED_STEPS:
        final = Undetermined(
            f"TikTok kept failing ({exc.code}) after receiving the post; its outcome is not "
            "known yet."
        )
    else:
        final = Fail(
            PostFailure(
                exc.code,
                f"TikTok refused the post: {exc.message or exc.code}",
                retryable=exc.retryable,
            )
        )
    return Retry(f"TikTok {exc.code}", give_up=final) if exc.retryable else final


Kinds = type[Exception] | tuple[type[Exception], ...]
Rule = Callable[[Any, Post], Outcome]

RULES: tuple[tuple[Kinds, Rule], ...] = (
    (PostDeferred, lambda exc, post: Deferral(exc.until, exc.reason, exc.learnt)),
    (PostFailure, lambda exc, post: Fail(exc)),
    (PostUndetermined, lambda exc, post: Undetermined(exc.message)),
    # The connection can no longer publish: the caller must connect it again.
    ((ReconnectRequired, ConnectionRevoked, ConnectionNotFound), _connection_lost),
    # TikTok would refuse the media: the request must change.
    (MediaRejected, _rejected_media),
    # Fetching or checking the media: a timeout or a 5xx may pass, the rest will not.
    (MediaError, _media),
    (AppError, _app_error),
    # Before TikTok may have the post a failure fails it; after, only TikTok knows.
    (TikTokError, _tiktok),
)


def classify(exc: Exception, post: Post) -> Outcome | None:
    """The outcome of ``exc`` raised while ``post`` (as it is now) was at its step."""
    for kinds, rule in RULES:
        if isinstance(exc, kinds):
            return rule(exc, post)
    return None
