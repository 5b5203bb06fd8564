"""The outcome at TikTok: status polling until the post ends, then watching a draft in the
creator's inbox until it is posted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.models import Post
from zakipost.publishing import budget, machine
from zakipost.publishing.failures import PostDeferred, PostUndetermined, from_fail_reason
from zakipost.publishing.machine import LATE_POLL_INTERVAL, Finish
from zakipost.publishing.run import PostRun, SyncChange
from zakipost.publishing.states import PostStatus
from zakipost.tiktok import PublishState, PublishStatus

POLL_DELAYS = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 30.0)
LATE_POLL_WINDOW = dt.timedelta(hours=24)
DRAFT_POLL_INTERVAL = dt.timedelta(minutes=1)
DRAFT_WATCH = dt.timedelta(days=7)


async def ask_status(run: PostRun, post: Post) -> PublishStatus:
    """TikTok's status of the post (its budget spent and the token read in one transaction
    before the call); the caller records it (:func:`recorder`) before its next I/O."""
    assert post.tiktok_publish_id is not None
    publish_id = post.tiktok_publish_id
    status: PublishStatus = await run.tiktok(
        post, budget.Family.status, lambda token: run.deps.tiktok.fetch_status(token, publish_id)
    )
    return status


def recorder(run: PostRun, status: PublishStatus) -> SyncChange:
    """The change that records TikTok's answer on the locked post."""

    def record(session: AsyncSession, row: Post) -> None:
        row.tiktok_status = status.status
        row.status_checks += 1
        if status.publicly_available_post_ids:
            machine.record_link(session, row, status.publicly_available_post_ids, now=run.now())

    return record


async def fetch_status(run: PostRun, post: Post) -> PublishStatus:
    """Ask TikTok's status and record it."""
    status = await ask_status(run, post)
    await run.write(recorder(run, status))
    return status


async def await_tiktok(run: PostRun, post: Post) -> bool:
    """Check TikTok's status once; True when the post reached an end. The answer is
    recorded in the write it leads to: the finish, or the deferral until the next check."""
    status = await ask_status(run, post)
    record = recorder(run, status)
    if status.status == PublishState.PUBLISH_COMPLETE:
        published = Finish(
            PostStatus.published,
            "Published on TikTok.",
            tuple(status.publicly_available_post_ids or ()),
        )
        await machine.record_finish(run, published, also=record)
        return True
    if status.status == PublishState.SEND_TO_USER_INBOX:
        if post.status is not PostStatus.in_inbox:
            in_inbox = Finish(
                PostStatus.in_inbox,
                "Sent to the creator's TikTok inbox; they open TikTok's notification to finish it.",
            )
            await machine.record_finish(run, in_inbox, also=record)
            return await await_draft(run, post)
        return await await_draft(run, post, learnt=record)
    if status.status == PublishState.FAILED:
        await run.write(record)
        raise from_fail_reason(status.fail_reason)
    submitted = post.submitted_at or post.created_at
    waited = run.now() - submitted
    if waited > dt.timedelta(seconds=run.deps.settings.publishing.status_deadline_seconds):
        if post.status is not PostStatus.unknown:
            await run.write(record)
            raise PostUndetermined(
                f"TikTok was still processing this post after {int(waited.total_seconds() // 60)} "
                "minutes; ZakiPost keeps checking for a day."
            )
        if waited > LATE_POLL_WINDOW:
            await run.write(record)
            return True
        raise PostDeferred(
            run.now() + LATE_POLL_INTERVAL, "still processing at TikTok", learnt=record
        )
    delay = POLL_DELAYS[min(post.status_checks, len(POLL_DELAYS) - 1)]
    raise PostDeferred(
        run.now() + dt.timedelta(seconds=delay), "TikTok is processing the post", learnt=record
    )


async def await_draft(run: PostRun, post: Post, *, learnt: SyncChange | None = None) -> bool:
    """A draft in the inbox becomes published when the creator posts it; keep an eye on it
    for a week, gently (its status checks share the per-token budget). ``learnt``: the
    status answer to record with the deferral."""
    waited = run.now() - (post.finished_at or run.now())
    if waited > DRAFT_WATCH:
        if learnt is not None:
            await run.write(learnt)
        return True
    interval = DRAFT_POLL_INTERVAL if waited < dt.timedelta(hours=1) else LATE_POLL_INTERVAL
    raise PostDeferred(
        run.now() + interval, "waiting for the creator to post the draft", learnt=learnt
    )


async def after_done(run: PostRun, post: Post) -> bool:
    """A finished post: a draft in the inbox is still watched; anything else has ended."""
    if post.status is PostStatus.in_inbox:
        return await await_tiktok(run, post)
    return True
