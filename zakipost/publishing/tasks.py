"""The job that drives a post: ``publishing.run`` takes steps until the post ends or must
wait; whatever a step raises is classified into an outcome and settled by the machine."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.logging import get_logger
from zakipost.models import Post
from zakipost.publishing import machine, steps
from zakipost.publishing.classify import classify
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.failures import PostDeferred
from zakipost.publishing.run import PostRun
from zakipost.publishing.states import TERMINAL, PostStatus, PostStep
from zakipost.worker import Defer, JobContext, RetryStrategy, TaskRegistry
from zakipost.worker.retry import describe

log = get_logger(__name__)

RUN_TASK = "publishing.run"
# Statuses a job starts a post from (it is not processing yet).
_WAITING = frozenset({PostStatus.scheduled, PostStatus.queued, PostStatus.deferred})
# Starting later than this after the scheduled time is worth a word on the timeline.
_LATE_START = dt.timedelta(seconds=60)


async def run_post(
    ctx: JobContext, deps: PipelineDeps, post_id: uuid.UUID, request_id: str | None = None
) -> str:
    run = PostRun(ctx, deps, post_id)
    post = await run.write(lambda session, row: _start(run, session, row))
    # Every later line of this job names the post (and the request that accepted it).
    ctx.bind(
        publish_id=post.publish_id,
        connection_id=str(post.connection_id),
        **({"request_id": request_id} if request_id else {}),
    )
    if post.status in TERMINAL:
        return post.status.value
    if post.status is PostStatus.scheduled and post.scheduled_at and post.scheduled_at > run.now():
        # Rescheduled later than this job's slot: wait for the new time.
        raise Defer(post.scheduled_at, "scheduled")
    try:
        while True:
            post = await run.load()
            if post.status in TERMINAL or await steps.take(run, post):
                break
    except Exception as exc:
        current = await run.load()
        if current.status in TERMINAL:
            # Ended meanwhile (TikTok's webhook): the step's write found it so; nothing to do.
            log.info("post.ended_meanwhile", status=current.status.value, error=describe(exc))
            return current.status.value
        outcome = classify(exc, current)
        if outcome is None:
            raise
        if not isinstance(exc, PostDeferred):
            # What went wrong, in full (a transport error names TikTok's host and endpoint);
            # the timeline and the job's row keep only a summary.
            log.info(
                "post.step_failed",
                step=str(current.step) if current.step else None,
                error=describe(exc),
                outcome=type(outcome).__name__.lower(),
            )
        later = await machine.settle(run, outcome)
        if later is not None:
            raise later from None
    return (await run.load()).status.value


def _start(run: PostRun, session: AsyncSession, row: Post) -> Post:
    """The job's first write: a waiting post that is due starts processing (its first step,
    preflight, begins with a read); any other is only read, under the fence."""
    if row.status not in _WAITING:
        return row
    if row.status is PostStatus.scheduled and row.scheduled_at and row.scheduled_at > run.now():
        return row  # rescheduled later than this job's slot: the job waits (run_post)
    message = "Processing started."
    if row.status is PostStatus.scheduled and row.scheduled_at is not None:
        late = run.now() - row.scheduled_at
        if late > _LATE_START:
            message = f"Processing started {int(late.total_seconds())} s after the scheduled time."
    row.started_at = row.started_at or run.now()
    machine.transition(
        session,
        row,
        PostStatus.processing,
        message,
        step=row.step or PostStep.preflight,
        now=run.now(),
    )
    return row


def register(registry: TaskRegistry, deps: PipelineDeps) -> None:
    retry = RetryStrategy(
        max_attempts=deps.settings.worker.max_attempts,
        base_delay=deps.settings.worker.retry_base_seconds,
    )

    @registry.task(RUN_TASK, retry=retry, lease_seconds=deps.settings.worker.lease_seconds)
    async def publishing_run(
        ctx: JobContext, *, post_id: str, request_id: str | None = None
    ) -> str:
        return await run_post(ctx, deps, uuid.UUID(post_id), request_id)
