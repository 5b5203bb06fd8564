"""Post statuses and steps, and the moves allowed between them. ``machine.transition``
enforces both tables."""

from __future__ import annotations

import enum


class PostStatus(enum.StrEnum):
    scheduled = "scheduled"  # waits for its scheduled_at
    queued = "queued"  # accepted; a worker will pick it up
    deferred = "deferred"  # waits for a rate limit or the daily cap to free (run_at says when)
    processing = "processing"  # a worker is moving it through the steps (see PostStep)
    published = "published"  # TikTok reports PUBLISH_COMPLETE
    in_inbox = "in_inbox"  # a draft sent to the creator's TikTok inbox (SEND_TO_USER_INBOX)
    failed = "failed"  # will not be published; error_code and error_message say why
    cancelled = "cancelled"  # cancelled by the caller before it reached TikTok
    unknown = "unknown"  # fate could not be determined (TikTok still processing, or a crash
    # at the one instant TikTok gives no way to check); never re-sent blindly


class PostStep(enum.StrEnum):
    """Where a processing post is; recorded before the step is taken."""

    preflight = "preflight"  # checking creator info: privacy, interactions, caps
    fetching = "fetching"  # streaming the media from video_url to local storage
    probing = "probing"  # checking the media against TikTok's rules
    initializing = "initializing"  # about to call TikTok's init (may reach TikTok)
    uploading = "uploading"  # FILE_UPLOAD chunks, before the final one
    final_chunk = "final_chunk"  # about to send the final chunk (may publish)
    awaiting_tiktok = "awaiting_tiktok"  # TikTok has it; polling its status
    done = "done"


TERMINAL = frozenset({PostStatus.published, PostStatus.failed, PostStatus.cancelled})

ALLOWED: dict[PostStatus, frozenset[PostStatus]] = {
    PostStatus.scheduled: frozenset(
        {PostStatus.queued, PostStatus.processing, PostStatus.cancelled, PostStatus.failed}
    ),
    # queued and deferred posts may be rescheduled (``CANCELLABLE``): back to scheduled.
    PostStatus.queued: frozenset(
        {
            PostStatus.processing,
            PostStatus.cancelled,
            PostStatus.failed,
            PostStatus.deferred,
            PostStatus.scheduled,
        }
    ),
    PostStatus.deferred: frozenset(
        {
            PostStatus.processing,
            PostStatus.cancelled,
            PostStatus.failed,
            PostStatus.queued,
            PostStatus.scheduled,
        }
    ),
    PostStatus.processing: frozenset(
        {
            PostStatus.processing,
            PostStatus.deferred,
            PostStatus.published,
            PostStatus.in_inbox,
            PostStatus.failed,
            PostStatus.unknown,
        }
    ),
    # A draft becomes published when the creator posts it from the inbox.
    PostStatus.in_inbox: frozenset({PostStatus.published, PostStatus.failed}),
    PostStatus.unknown: frozenset(
        {PostStatus.published, PostStatus.in_inbox, PostStatus.failed, PostStatus.unknown}
    ),
    PostStatus.published: frozenset(),
    PostStatus.failed: frozenset(),
    PostStatus.cancelled: frozenset(),
}

# Before TikTok has seen anything, a post can still be cancelled or rescheduled.
CANCELLABLE = frozenset({PostStatus.scheduled, PostStatus.queued, PostStatus.deferred})

# Steps after which TikTok may already have the post: a failure there is not "never sent".
SUBMITTED_STEPS = frozenset({PostStep.final_chunk, PostStep.awaiting_tiktok})

# Where a post's step may go next; staying on the same step is always allowed (a retry, a
# deferral, a resumption). ``None`` is a post that has not started: just accepted, or
# cancelled before TikTok saw it. Every step may end the post (``done``). Only a FILE_UPLOAD before its final
# chunk may go back to ``initializing`` (a new init), which is the crash-safety rule.
STEP_MOVES: dict[PostStep | None, frozenset[PostStep | None]] = {
    None: frozenset({PostStep.preflight, PostStep.done}),
    PostStep.preflight: frozenset({PostStep.fetching, PostStep.done, None}),
    PostStep.fetching: frozenset(
        # photos are prepared while fetching and need no probe
        {PostStep.probing, PostStep.initializing, PostStep.done, None}
    ),
    PostStep.probing: frozenset({PostStep.initializing, PostStep.done, None}),
    PostStep.initializing: frozenset(
        {PostStep.uploading, PostStep.awaiting_tiktok, PostStep.done, None}
    ),
    PostStep.uploading: frozenset({PostStep.final_chunk, PostStep.initializing, PostStep.done}),
    # TikTok's status after a crash says: resend the last chunk, start over, or wait.
    PostStep.final_chunk: frozenset(
        {PostStep.uploading, PostStep.initializing, PostStep.awaiting_tiktok, PostStep.done}
    ),
    PostStep.awaiting_tiktok: frozenset({PostStep.done}),
    # A draft in the inbox stays done while it becomes published (or fails).
    PostStep.done: frozenset(),
}
