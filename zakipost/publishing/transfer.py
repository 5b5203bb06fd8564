"""Transfer: TikTok's init, the FILE_UPLOAD chunks, and the final chunk.

A FILE_UPLOAD whose final chunk was never sent cannot have posted, so until then the init
may be repeated (a new init leaves the old upload to expire). A PULL_FROM_URL init that may
have reached TikTok without its publish id being stored can never be checked, so it is never
repeated: the post's fate becomes unknown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from zakipost import metrics
from zakipost.media import probe as media_probe
from zakipost.models import Post, PostMode, Transfer
from zakipost.publishing import daily_cap, machine
from zakipost.publishing.failures import PostFailure, PostUndetermined
from zakipost.publishing.outcome import fetch_status
from zakipost.publishing.preflight import posting_refused, prepare_init
from zakipost.publishing.run import PostRun
from zakipost.publishing.states import PostStatus, PostStep
from zakipost.tiktok import (
    FileUploadSource,
    InitResult,
    PublishState,
    PullFromUrlSource,
    TikTokPostingRefused,
    UploadProgress,
    UploadUrlExpired,
    UrlOwnershipUnverified,
    VideoPostInfo,
    plan_chunks,
)

UPLOAD_URL_LIFETIME = dt.timedelta(hours=1)


def post_info(post: Post) -> VideoPostInfo:
    plan = post.plan
    return VideoPostInfo(
        privacy_level=(plan and plan.privacy_level) or post.privacy_level or "SELF_ONLY",
        title=post.title,
        disable_comment=bool(plan and plan.disable_comment),
        disable_duet=bool(plan and plan.disable_duet),
        disable_stitch=bool(plan and plan.disable_stitch),
        video_cover_timestamp_ms=post.video_cover_timestamp_ms,
        brand_content_toggle=post.brand_content_toggle,
        brand_organic_toggle=post.brand_organic_toggle,
        is_aigc=post.is_aigc,
    )


def _after_init(post: Post) -> PostStep:
    return PostStep.uploading if post.transfer is Transfer.file_upload else PostStep.awaiting_tiktok


async def initialize(run: PostRun, post: Post) -> None:
    """Call TikTok's init. Reached again after a crash: a FILE_UPLOAD init may be repeated
    (no chunk was sent, so nothing can have posted); a PULL_FROM_URL one may not."""
    if post.tiktok_publish_id is not None:
        await machine.advance(run, _after_init(post), "Resuming after init.")
        return
    if post.transfer is Transfer.pull_from_url and post.init_attempted_at is not None:
        raise PostUndetermined(
            "ZakiPost stopped while asking TikTok to pull the video and cannot tell whether TikTok "
            "received the request; it was not sent again. Check the TikTok app."
        )
    if post.transfer is Transfer.file_upload:
        plan = plan_chunks(post.media_size or 0)
        source: FileUploadSource | PullFromUrlSource = FileUploadSource.from_plan(plan)
        chunk_size: int | None = plan.chunk_size
    else:
        assert post.video_url is not None
        source, chunk_size = PullFromUrlSource(video_url=post.video_url), None

    def intent(row: Post) -> None:
        row.init_attempted_at = run.now()
        row.chunk_size = chunk_size

    token = await prepare_init(run, post, intent)
    try:
        result: InitResult = await run.tiktok(post, None, init_call(run, post, source), token=token)
    except UrlOwnershipUnverified:
        # TikTok refused to pull, so nothing was created: send the bytes instead.
        def fallback(session: AsyncSession, row: Post) -> None:
            row.transfer = Transfer.file_upload
            row.init_attempted_at = None
            machine.note(
                session,
                row,
                "TikTok has not verified this URL prefix; uploading the file instead.",
                now=run.now(),
            )

        await run.write(fallback)
        return
    except TikTokPostingRefused as refusal:
        raise await posting_refused(run, post, refusal) from None
    upload_url = result.upload_url
    encrypted = (
        run.deps.vault.seal(upload_url, context=f"posts.upload_url:{post.id}")
        if upload_url
        else None
    )
    submitted = post.transfer is Transfer.pull_from_url
    await machine.advance(
        run,
        _after_init(post),
        "TikTok accepted the post"
        + (" and is pulling the video." if submitted else "; uploading the video."),
        tiktok_publish_id=result.publish_id,
        upload_url_encrypted=encrypted,
        upload_expires_at=run.now() + UPLOAD_URL_LIFETIME if upload_url else None,
        uploaded_bytes=0,
    )


def init_call(
    run: PostRun, post: Post, source: FileUploadSource | PullFromUrlSource
) -> Callable[[str], Awaitable[InitResult]]:
    client = run.deps.tiktok
    if post.post_mode is PostMode.draft:
        return lambda token: client.init_inbox_video(token, source=source)
    info = post_info(post)
    return lambda token: client.init_direct_video(token, post_info=info, source=source)


async def upload(run: PostRun, post: Post) -> None:
    assert post.upload_url_encrypted and post.media_size and post.chunk_size
    if post.upload_expires_at and post.upload_expires_at <= run.now():
        await restart_upload(run, "TikTok's one-hour upload window closed before the last chunk")
        return
    upload_url = run.deps.vault.open(
        post.upload_url_encrypted, context=f"posts.upload_url:{post.id}"
    )
    plan = plan_chunks(post.media_size, chunk_size=post.chunk_size)
    path = Path(post.media_path or "")
    if not await asyncio.to_thread(path.exists):
        raise PostFailure(
            "media_lost",
            "The fetched video is no longer on this worker; it will be fetched again.",
            retryable=True,
        )
    content_type = media_probe.content_type_for_info(post.media_info or {})

    confirmed = post.uploaded_bytes
    last_start = plan.chunks[-1].start

    async def progress(p: UploadProgress) -> None:
        nonlocal confirmed
        metrics.media_bytes("to_tiktok", p.next_offset - confirmed)
        confirmed = max(confirmed, p.next_offset)
        if p.next_offset >= last_start:
            # The next write follows with no I/O between: the final chunk's record (before
            # it leaves), or the end of the upload; each records the offset itself.
            return

        def record(session: AsyncSession, row: Post) -> None:
            row.uploaded_bytes = p.next_offset

        await run.write(record)

    async def before_final_chunk() -> None:
        # Recorded before the chunk leaves: from here on only TikTok's status decides.
        await machine.advance(
            run,
            PostStep.final_chunk,
            "Sending the last chunk.",
            also=lambda row: daily_cap.mark_submitted(row, run.now()),
            uploaded_bytes=max(confirmed, post.uploaded_bytes),
        )

    try:
        outcome = await run.deps.tiktok.upload(
            upload_url,
            path,
            plan,
            content_type=content_type,
            start_at=post.uploaded_bytes,
            progress=progress,
            on_before_final_chunk=before_final_chunk,
        )
    except UploadUrlExpired:
        current = await run.load()
        if current.step is PostStep.final_chunk:
            raise
        await restart_upload(run, "TikTok's upload URL expired before the last chunk")
        return
    await machine.advance(
        run,
        PostStep.awaiting_tiktok,
        f"Video uploaded in {outcome.progress.total_chunks} chunk(s); TikTok is processing it.",
        uploaded_bytes=outcome.progress.next_offset,
        upload_url_encrypted=None,
    )


async def restart_upload(run: PostRun, why: str) -> None:
    """Start the transfer over with a new init: allowed only before the final chunk."""

    def reset(session: AsyncSession, row: Post) -> None:
        row.tiktok_publish_id = None
        row.upload_url_encrypted = None
        row.uploaded_bytes = 0
        row.init_attempted_at = None
        machine.transition(
            session,
            row,
            PostStatus.processing,
            f"{why}; starting the upload over.",
            step=PostStep.initializing,
            now=run.now(),
        )

    await run.write(reset)


async def resume_final_chunk(run: PostRun, post: Post) -> None:
    """After a crash around the final chunk: TikTok's status says whether it arrived."""
    status = await fetch_status(run, post)
    total = post.media_size or 0
    if status.status == PublishState.PROCESSING_UPLOAD and (status.uploaded_bytes or 0) < total:
        if post.upload_expires_at and post.upload_expires_at > run.now():
            await machine.advance(
                run, PostStep.uploading, "The last chunk had not arrived; sending it again."
            )
            return
        await restart_upload(
            run, "The last chunk never reached TikTok and the upload window closed"
        )
        return
    await machine.advance(
        run, PostStep.awaiting_tiktok, "TikTok has the whole video; checking its status."
    )
