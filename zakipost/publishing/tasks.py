"""The job that drives a post: ``publishing.run`` loops over the steps until the post ends
or must wait, and turns what went wrong into the post's final word."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.billing import points
from zakipost.connection.errors import ConnectionNotFound, ConnectionRevoked, ReconnectRequired
from zakipost.errors import AppError
from zakipost.logging import get_logger
from zakipost.models import MediaKind, Post
from zakipost.publishing import machine, photos, steps
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.failures import PostDeferred, PostFailure, PostUndetermined
from zakipost.publishing.states import TERMINAL, PostStatus, PostStep
from zakipost.tiktok import TikTokError
from zakipost.worker import Defer, JobContext, RetryStrategy, TaskRegistry

log = get_logger(__name__)

RUN_TASK = "publishing.run"
# Steps after which TikTok may already have the post: failures there are not "never sent".
_SUBMITTED_STEPS = frozenset({PostStep.final_chunk, PostStep.awaiting_tiktok})


async def run_post(ctx: JobContext, deps: PipelineDeps, post_id: uuid.UUID) -> str:
    step = steps.Step(ctx, deps, post_id)
    post = await step.load()
    if post.status in TERMINAL:
        return post.status.value
    if post.status is PostStatus.scheduled and post.scheduled_at and post.scheduled_at > step.now():
        # Rescheduled later than this job's slot: wait for the new time.
        raise Defer(post.scheduled_at, "scheduled")
    try:
        if post.status in (PostStatus.scheduled, PostStatus.queued, PostStatus.deferred):
            await _start(step, post)
        while True:
            post = await step.load()
            if post.status in TERMINAL:
                return post.status.value
            if await _take_step(step, post):
                return (await step.load()).status.value
    except PostDeferred as deferred:
        await _defer(step, deferred)
        raise Defer(deferred.until, deferred.reason) from None
    except PostFailure as failure:
        await _fail(step, failure)
    except PostUndetermined as undetermined:
        await _undetermined(step, undetermined.message)
        raise Defer(step.now() + steps.LATE_POLL_INTERVAL, "checking TikTok later") from None
    except (ReconnectRequired, ConnectionRevoked, ConnectionNotFound) as exc:
        await _fail(step, PostFailure(exc.code, exc.message))
    except AppError as exc:
        retryable = bool(getattr(exc, "retryable", False))
        if retryable:
            await _retry_later(step, exc.code)
        await _fail(
            step,
            PostFailure(
                exc.code,
                exc.message,
                retryable=retryable,
                caller_error=not retryable,
                fail_reason=getattr(exc, "fail_reason", None),
            ),
        )
    except TikTokError as exc:
        await _tiktok_error(step, exc)
    return (await step.load()).status.value


async def _take_step(step: steps.Step, post: Post) -> bool:
    """One step; True when the post reached an end."""
    match post.step:
        case None | PostStep.preflight:
            await steps.preflight(step, post)
        case PostStep.fetching if post.kind is MediaKind.photo:
            await photos.prepare(step, post)
        case PostStep.fetching:
            await steps.fetch(step, post)
        case PostStep.probing:
            await steps.probe(step, post)
        case PostStep.initializing if post.kind is MediaKind.photo:
            await steps.initialize_photos(step, post)
        case PostStep.initializing:
            await steps.initialize(step, post)
        case PostStep.uploading:
            await steps.upload(step, post)
        case PostStep.final_chunk:
            await steps.resume_final_chunk(step, post)
        case PostStep.awaiting_tiktok:
            return await steps.await_tiktok(step, post)
        case PostStep.done if post.status is PostStatus.in_inbox:
            return await steps.await_tiktok(step, post)
        case PostStep.done:
            return True
    return False


async def _start(step: steps.Step, post: Post) -> None:
    late = None
    if post.status is PostStatus.scheduled and post.scheduled_at is not None:
        late = step.now() - post.scheduled_at

    def change(session: AsyncSession, row: Post) -> None:
        message = "Processing started."
        if late is not None and late > dt.timedelta(seconds=60):
            message = f"Processing started {int(late.total_seconds())} s after the scheduled time."
        row.started_at = row.started_at or step.now()
        machine.transition(
            session,
            row,
            PostStatus.processing,
            message,
            step=row.step or PostStep.preflight,
            now=step.now(),
        )

    await step.write(change)


async def _defer(step: steps.Step, deferred: PostDeferred) -> None:
    def change(session: AsyncSession, row: Post) -> None:
        row.run_at = deferred.until
        if row.step in _SUBMITTED_STEPS or row.status in (PostStatus.unknown, PostStatus.in_inbox):
            return  # waiting on TikTok (or on the creator) is not a deferral
        machine.transition(
            session,
            row,
            PostStatus.deferred,
            f"Waiting until {deferred.until:%Y-%m-%d %H:%M:%S} UTC: {deferred.reason}.",
            step=row.step,
            now=step.now(),
        )

    await step.write(change)


async def _fail(step: steps.Step, failure: PostFailure) -> None:
    refund = not failure.caller_error or step.deps.settings.billing.refund_caller_errors

    async def change(session: AsyncSession, row: Post) -> None:
        row.error_code = failure.code
        row.error_message = failure.message
        row.error_retryable = failure.retryable
        row.tiktok_fail_reason = failure.fail_reason
        row.upload_url_encrypted = None
        if row.tiktok_publish_id is None:
            row.submitted_at = None  # TikTok never had it: give the daily slot back
        machine.transition(
            session, row, PostStatus.failed, failure.message, step=PostStep.done, now=step.now()
        )
        if refund and row.cost_points:
            await points.refund(
                session, row.account_id, reference=row.publish_id, reason="Publish failed"
            )

    await step.write(change)
    await steps.discard_media(step)
    log.info("post_failed", post_id=str(step.post_id), code=failure.code)


async def _undetermined(step: steps.Step, message: str) -> None:
    def change(session: AsyncSession, row: Post) -> None:
        row.error_code = "outcome_unknown"
        row.error_message = message
        row.error_retryable = False
        machine.transition(
            session,
            row,
            PostStatus.unknown,
            message,
            step=PostStep.awaiting_tiktok if row.tiktok_publish_id else row.step,
            now=step.now(),
        )

    await step.write(change)


async def _retry_later(step: steps.Step, what: str) -> None:
    """Retry the current step after a backoff, unless it already failed too often. Counted
    per step (``advance`` resets the count), so one flaky call late in a long run does not
    use up retries earned earlier."""
    settings = step.deps.settings.worker
    post = await step.load()
    failures = int((post.options or {}).get("step_failures", 0)) + 1
    if failures >= settings.max_attempts:
        return
    delay = settings.retry_base_seconds * 2 ** (failures - 1) * (0.5 + random.random() / 2)

    def record(session: AsyncSession, row: Post) -> None:
        row.options = {**(row.options or {}), "step_failures": failures}
        machine.note(
            session, row, f"Temporary problem ({what}); retrying in {delay:.1f} s.", now=step.now()
        )

    await step.write(record)
    raise Defer(step.now() + dt.timedelta(seconds=delay), f"retrying after {what}")


async def _tiktok_error(step: steps.Step, exc: TikTokError) -> None:
    if exc.retryable:
        await _retry_later(step, f"TikTok {exc.code}")
    post = await step.load()
    if post.step in _SUBMITTED_STEPS:
        await _undetermined(
            step,
            f"TikTok kept failing ({exc.code}) after receiving the post; its outcome is not known yet.",
        )
        raise Defer(step.now() + steps.LATE_POLL_INTERVAL, "checking TikTok later") from exc
    await _fail(
        step,
        PostFailure(
            exc.code,
            f"TikTok refused the post: {exc.message or exc.code}",
            retryable=exc.retryable,
        ),
    )


def register(registry: TaskRegistry, deps: PipelineDeps) -> None:
    retry = RetryStrategy(
        max_attempts=deps.settings.worker.max_attempts,
        base_delay=deps.settings.worker.retry_base_seconds,
    )

    @registry.task(RUN_TASK, retry=retry, lease_seconds=deps.settings.worker.lease_seconds)
    async def publishing_run(ctx: JobContext, *, post_id: str) -> str:
        return await run_post(ctx, deps, uuid.UUID(post_id))
