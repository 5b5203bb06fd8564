"""The public link of a published post: TikTok fills ``publicaly_available_post_id`` only
after moderation, often after ``PUBLISH_COMPLETE``, sometimes hours later.

``publishing.link`` is a job of its own (the post is already published and stays so): it
asks TikTok's status on a widening schedule from the moment the post was published, spends
from the same per-token status budget as polling, and stops as soon as the id arrives (here
or through TikTok's ``post.publish.publicly_available`` webhook), when the post turns out not
to be public, or at ``publishing.link_watch_hours``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.connection.errors import ConnectionNotFound, ConnectionRevoked, ReconnectRequired
from zakipost.models import Post
from zakipost.publishing import budget, machine
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.failures import PostDeferred
from zakipost.publishing.run import PostRun
from zakipost.publishing.states import PostStatus
from zakipost.tiktok import PublishStatus, TikTokError
from zakipost.worker import Defer, JobContext, RetryStrategy, TaskRegistry

# When to ask, counted from PUBLISH_COMPLETE: 1, 3, 8, 18 and 48 minutes, then hourly
# widening to every 12 hours; the last check is at the bound.
CHECKS = tuple(
    dt.timedelta(minutes=m)
    for m in (1, 3, 8, 18, 48, 108, 228, 468, 948, 1_668, 2_388, 3_108, 3_828, 4_548, 5_268)
)


def next_check(published_at: dt.datetime, now: dt.datetime, bound: dt.datetime) -> dt.datetime:
    """The first scheduled check after ``now`` (never past ``bound``)."""
    for offset in CHECKS:
        due = published_at + offset
        if due > now:
            return min(due, bound)
    return bound


async def watch_link(ctx: JobContext, deps: PipelineDeps, post_id: uuid.UUID) -> str:
    """One check of a published post's link; raises ``Defer`` for the next one."""
    run = PostRun(ctx, deps, post_id)
    post = await run.load()
    if post.tiktok_post_ids:
        return "link known"
    if post.status is not PostStatus.published or post.tiktok_publish_id is None:
        return "not published"
    if not machine.link_expected(post):
        return "not public"
    published_at = post.finished_at or post.created_at
    bound = published_at + dt.timedelta(hours=deps.settings.publishing.link_watch_hours)
    publish_id = post.tiktok_publish_id
    try:
        status: PublishStatus = await run.tiktok(
            post, budget.Family.status, lambda token: deps.tiktok.fetch_status(token, publish_id)
        )
    except PostDeferred as wait:
        # The status budget is shared with polling: wait for a slot, no attempt spent.
        raise Defer(min(wait.until, bound), wait.reason) from None
    except (ReconnectRequired, ConnectionRevoked, ConnectionNotFound) as exc:
        await _note(run, f"ZakiPost stopped asking TikTok for the post's link: {exc.message}")
        return "connection lost"
    except TikTokError as exc:
        if not exc.retryable or run.now() >= bound:
            await _note(
                run, f"ZakiPost stopped asking TikTok for the post's link: TikTok said {exc.code}."
            )
            return f"tiktok {exc.code}"
        raise Defer(next_check(published_at, run.now(), bound), f"TikTok {exc.code}") from None
    ids = status.publicly_available_post_ids
    if ids:
        await run.write(lambda session, row: machine.record_link(session, row, ids, now=run.now()))
        return "link stored"
    if run.now() >= bound:
        hours = deps.settings.publishing.link_watch_hours
        await _note(
            run,
            f"TikTok gave no public link within {hours:g} hours of publishing; ZakiPost "
            "stopped asking (TikTok's webhook can still bring it).",
        )
        return "gave up"
    raise Defer(next_check(published_at, run.now(), bound), "waiting for TikTok's link")


async def _note(run: PostRun, message: str) -> None:
    def change(session: AsyncSession, row: Post) -> None:
        machine.note(session, row, message, now=run.now())

    await run.write(change)


def register(registry: TaskRegistry, deps: PipelineDeps) -> None:
    retry = RetryStrategy(
        max_attempts=deps.settings.worker.max_attempts,
        base_delay=deps.settings.worker.retry_base_seconds,
    )

    @registry.task(machine.LINK_TASK, retry=retry, lease_seconds=deps.settings.worker.lease_seconds)
    async def publishing_link(ctx: JobContext, *, post_id: str) -> str:
        return await watch_link(ctx, deps, uuid.UUID(post_id))
