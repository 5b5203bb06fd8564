"""The one writer of a post's status and step, and the one place an outcome takes effect.

No other code assigns ``post.status`` or ``post.step``: :func:`transition` checks both moves
against ``states`` and leaves a timeline event; :func:`advance` is a step's "done, next";
:func:`settle` applies an outcome (a finish, a failure, a deferral, a retry, an unknown fate)
with all its side effects: error fields, the daily slot, the refund, the media.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zakipost import events, metrics
from zakipost.billing import points
from zakipost.config import BillingSettings
from zakipost.kit.clock import utcnow
from zakipost.logging import get_logger
from zakipost.models.post import MediaKind, Post, PostMode
from zakipost.models.post_event import PostEvent
from zakipost.publishing import daily_cap
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.failures import PostFailure
from zakipost.publishing.run import PostRun, SyncChange
from zakipost.publishing.states import (
    ALLOWED,
    STEP_MOVES,
    SUBMITTED_STEPS,
    TERMINAL,
    PostStatus,
    PostStep,
)
from zakipost.upload.service import release_post_media
from zakipost.worker import Defer, enqueue

log = get_logger(__name__)

# The statuses the outside world hears about when a post enters them.
STATUS_EVENTS: dict[PostStatus, events.EventType] = {
    PostStatus.published: "post.published",
    PostStatus.in_inbox: "post.in_inbox",
    PostStatus.failed: "post.failed",
    PostStatus.unknown: "post.unknown",
    PostStatus.cancelled: "post.cancelled",
    PostStatus.deferred: "post.deferred",
}

# How often a post of unknown fate is checked at TikTok again.
LATE_POLL_INTERVAL = dt.timedelta(minutes=10)

# The job that asks TikTok for a published post's public link (``publishing.link``).
LINK_TASK = "publishing.link"
# The first time it asks, after PUBLISH_COMPLETE; ``link.next_check`` widens from there.
FIRST_LINK_CHECK = dt.timedelta(minutes=1)


class IllegalTransition(Exception):
    """A status change the state machine does not allow (a bug, or a lost race)."""

    def __init__(self, current: PostStatus, target: PostStatus) -> None:
        super().__init__(f"a post cannot go from {current} to {target}")
        self.current = current
        self.target = target


class IllegalStepMove(Exception):
    """A step change the state machine does not allow."""

    def __init__(self, current: PostStep | None, target: PostStep | None) -> None:
        super().__init__(f"a post cannot step from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: PostStatus, target: PostStatus) -> bool:
    return target is current or target in ALLOWED[current]


def can_step(current: PostStep | None, target: PostStep | None) -> bool:
    return target is current or target in STEP_MOVES[current]


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
    """Move ``post`` to ``target`` (and ``step``), or raise ``IllegalTransition`` /
    ``IllegalStepMove``."""
    if not can_transition(post.status, target):
        raise IllegalTransition(post.status, target)
    if not can_step(post.step, step):
        raise IllegalStepMove(post.step, step)
    at = now or utcnow()
    entered = target is not post.status
    post.status = target
    post.step = step
    if entered and target in STATUS_EVENTS:
        events.record(
            session,
            events.DomainEvent(STATUS_EVENTS[target], post.account_id, "post", post.id),
        )
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


def step_done(
    session: AsyncSession,
    post: Post,
    step: PostStep,
    message: str,
    *,
    now: dt.datetime,
    also: Callable[[Post], None] | None = None,
    **fields: Any,
) -> None:
    """:func:`advance` as a change of the locked ``post``, for a step that records more in
    the same transaction."""
    for name, value in fields.items():
        setattr(post, name, value)
    if also is not None:
        also(post)
    post.step_failures = 0  # retries are counted per step
    transition(session, post, PostStatus.processing, message, step=step, now=now)


async def advance(
    run: PostRun,
    step: PostStep,
    message: str,
    *,
    also: Callable[[Post], None] | None = None,
    **fields: Any,
) -> None:
    """The current step is done: record ``fields`` (and ``also``'s changes) and move to
    ``step``, still processing."""
    await run.write(
        lambda session, post: step_done(
            session, post, step, message, now=run.now(), also=also, **fields
        )
    )


# -- outcomes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finish:
    """TikTok reports the post published, or sent to the creator's inbox."""

    status: PostStatus
    message: str
    post_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Fail:
    """The post ends failed."""

    failure: PostFailure


@dataclass(frozen=True, slots=True)
class Deferral:
    """Not now: run again at ``until``; ``also`` records what the step learnt just before
    (``PostDeferred.learnt``) in the same write."""

    until: dt.datetime
    reason: str
    also: SyncChange | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Undetermined:
    """TikTok may have the post and cannot say yet: mark it unknown, keep checking."""

    message: str


@dataclass(frozen=True, slots=True)
class Retry:
    """A passing problem: take the step again after a backoff, or ``give_up`` once the step
    failed too often."""

    what: str
    give_up: Fail | Undetermined


Outcome = Finish | Fail | Deferral | Undetermined | Retry


async def settle(run: PostRun, outcome: Outcome) -> Defer | None:
    """Apply ``outcome`` to the post; the ``Defer`` the job must raise, if it waits."""
    match outcome:
        case Finish():
            await record_finish(run, outcome)
        case Fail():
            await _fail(run, outcome.failure)
        case Deferral():
            await _defer(run, outcome)
            return Defer(outcome.until, outcome.reason)
        case Undetermined():
            if not await _undetermined(run, outcome.message):
                # No publish_id: there is nothing to ask TikTok, so checking again would only
                # repeat this verdict (and its timeline line) every ten minutes, forever.
                return None
            return Defer(run.now() + LATE_POLL_INTERVAL, "checking TikTok later")
        case Retry():
            return await _retry(run, outcome)
    return None


async def record_finish(run: PostRun, finish: Finish, *, also: SyncChange | None = None) -> None:
    """Settle ``finish``; ``also``, a change of what the step learnt (TikTok's status that
    says so), is recorded in the same transaction."""

    async def change(session: AsyncSession, row: Post) -> Post | None:
        if also is not None:
            also(session, row)
        return row if await apply_finish(session, row, finish, now=run.now()) else None

    # A final status ends the job: its completion commits with it.
    row: Post | None = await run.write(change, ends_job=finish.status in TERMINAL)
    if row is not None:  # not when a webhook had already ended it so
        metrics.post_finished(
            row.kind.value, finish.status.value, (run.now() - row.created_at).total_seconds()
        )
        log.info("post.finished", status=finish.status.value)
    await _release_media(run)


async def apply_finish(
    session: AsyncSession, row: Post, finish: Finish, *, now: dt.datetime
) -> bool:
    """Record a finish on the locked ``row``; False when the post had already ended so (a
    webhook and a poll both telling): nothing is written twice."""
    already = row.status is finish.status and row.step is PostStep.done
    if finish.post_ids:
        record_link(session, row, finish.post_ids, now=now)
    if already:
        return False
    row.upload_url_encrypted = None
    transition(session, row, finish.status, finish.message, step=PostStep.done, now=now)
    if finish.status is PostStatus.published and not row.tiktok_post_ids and link_expected(row):
        # TikTok gives the public id after moderation, often after PUBLISH_COMPLETE.
        await enqueue(
            session,
            LINK_TASK,
            {"post_id": str(row.id)},
            run_at=now + FIRST_LINK_CHECK,
            queueing_lock=f"link:{row.id}",
            now=now,
        )
    return True


def link_expected(post: Post) -> bool:
    """Whether TikTok will give this post a public id: only public posts get one. A draft's
    privacy is the creator's choice in the app, so it may."""
    privacy = (post.plan and post.plan.privacy_level) or post.privacy_level
    if post.post_mode is PostMode.draft and post.kind is MediaKind.video:
        return True
    return privacy == "PUBLIC_TO_EVERYONE"


def record_link(
    session: AsyncSession, post: Post, post_ids: Sequence[str], *, now: dt.datetime
) -> bool:
    """Store TikTok's public post ids (as strings); True, with a ``post.link_available``
    event, when the post had none before."""
    known = [str(p) for p in post.tiktok_post_ids or []]
    added = [str(p) for p in post_ids if str(p) not in known]
    if not added:
        return False
    post.tiktok_post_ids = known + added
    if known:
        return False
    events.record(
        session, events.DomainEvent("post.link_available", post.account_id, "post", post.id)
    )
    note(session, post, "TikTok gave the post's public link.", now=now)
    return True


def refund_due(failure: PostFailure, post: Post, billing: BillingSettings) -> bool:
    """Whether a failed post's points go back: always when TikTok failed it for its own
    reasons; for the caller's errors, when the post never reached TikTok (no init accepted)
    unless the operator charges them, and after that only if the operator refunds them."""
    if not failure.caller_error:
        return True
    if post.tiktok_publish_id is None:
        return not billing.charge_caller_errors
    return billing.refund_caller_errors


async def _fail(run: PostRun, failure: PostFailure) -> None:
    billing = run.deps.settings.billing
    await run.write(
        lambda session, row: apply_failure(session, row, failure, billing, now=run.now()),
        ends_job=True,
    )
    await _release_media(run)
    log.info("post_failed", post_id=str(run.post_id), code=failure.code)


async def apply_failure(
    session: AsyncSession,
    row: Post,
    failure: PostFailure,
    billing: BillingSettings,
    *,
    now: dt.datetime,
) -> bool:
    """Record a failure on the locked ``row``: error fields, the daily slot, the refund
    (once, by publish id); False when the post had already failed."""
    if row.status is PostStatus.failed:
        return False
    row.error_code = failure.code
    row.error_message = failure.message
    row.error_retryable = failure.retryable
    row.tiktok_fail_reason = failure.fail_reason
    row.upload_url_encrypted = None
    daily_cap.release(row)
    transition(session, row, PostStatus.failed, failure.message, step=PostStep.done, now=now)
    if refund_due(failure, row, billing) and row.cost_points:
        await refund(session, row, reason="Publish failed")
    return True


async def refund(session: AsyncSession, post: Post, *, reason: str) -> None:
    """Give the post's points back, at most once (the ledger is keyed by publish id)."""
    entry = await points.refund(session, post.account_id, reference=post.publish_id, reason=reason)
    if entry is not None:
        post.points_refunded += entry.amount


async def _defer(run: PostRun, deferral: Deferral) -> None:
    def change(session: AsyncSession, row: Post) -> bool:
        """True when the post is polling: waiting on TikTok (or on the creator)."""
        if deferral.also is not None:
            deferral.also(session, row)
        row.run_at = deferral.until
        if row.step in SUBMITTED_STEPS or row.status in (PostStatus.unknown, PostStatus.in_inbox):
            return True  # waiting on TikTok (or on the creator) is not a deferral
        transition(
            session,
            row,
            PostStatus.deferred,
            f"Waiting until {deferral.until:%Y-%m-%d %H:%M:%S} UTC: {deferral.reason}.",
            step=row.step,
            now=run.now(),
        )
        return False

    polling = await run.write(change)
    log.info(
        "post.polling" if polling else "post.deferred",
        reason=deferral.reason,
        next_check_at=deferral.until.isoformat(),
    )


async def _undetermined(run: PostRun, message: str) -> bool:
    """Mark the post unknown; True when TikTok can still be asked about it."""

    def change(session: AsyncSession, row: Post) -> bool:
        row.error_code = "outcome_unknown"
        row.error_message = message
        row.error_retryable = False
        transition(
            session,
            row,
            PostStatus.unknown,
            message,
            step=PostStep.awaiting_tiktok if row.tiktok_publish_id else row.step,
            now=run.now(),
        )
        return row.tiktok_publish_id is not None

    return bool(await run.write(change))


async def _retry(run: PostRun, retry: Retry) -> Defer | None:
    settings = run.deps.settings.worker
    failures = (await run.load()).step_failures + 1
    if failures >= settings.max_attempts:
        return await settle(run, retry.give_up)
    delay = settings.retry_base_seconds * 2 ** (failures - 1) * (0.5 + random.random() / 2)

    def record(session: AsyncSession, row: Post) -> None:
        row.step_failures = failures
        note(
            session,
            row,
            f"Temporary problem ({retry.what}); retrying in {delay:.1f} s.",
            now=run.now(),
        )

    await run.write(record)
    return Defer(run.now() + dt.timedelta(seconds=delay), f"retrying after {retry.what}")


def store_keys(post: Post) -> list[str]:
    """Every store object this post owns: prepared images and claimed uploads."""
    keys = [p.prepared_key for p in post.prepared_photos]
    keys += [p.media_key for p in post.request.photos if p.media_key]
    if post.request.media_key:
        keys.append(post.request.media_key)
    return keys


async def _release_media(run: PostRun) -> None:
    await release_media(run.deps, await run.load(), now=run.now())


async def release_media(deps: PipelineDeps, post: Post, *, now: dt.datetime) -> None:
    """Remove what the post fetched or prepared once TikTok has it (or never will)."""
    if post.media_path and post.media_path_owned:
        await asyncio.to_thread(Path(post.media_path).unlink, missing_ok=True)
    keys = store_keys(post)
    if keys:
        async with deps.sessionmaker() as session, session.begin():
            await release_post_media(session, deps.store, keys, now=now)
