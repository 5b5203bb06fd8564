"""The publish steps. Each records what it is about to do before doing it, does its I/O
outside any transaction, then records what it learnt; ``run`` drives a post through them.

Crash safety rests on one asymmetry: a FILE_UPLOAD whose final chunk was never sent cannot
have posted, so everything before ``final_chunk`` may simply run again; once the final chunk
or a PULL_FROM_URL init may have reached TikTok, only TikTok's status for the stored
publish_id decides what happened, and a post TikTok cannot be asked about is marked
``unknown`` instead of being sent twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.connection.service import creator_info_record
from zakipost.media import fetch as media_fetch
from zakipost.media import probe as media_probe
from zakipost.models import Connection, MediaKind, Post, PostMode, Transfer
from zakipost.publishing import budget, machine
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.failures import (
    PostDeferred,
    PostFailure,
    PostUndetermined,
    from_fail_reason,
)
from zakipost.publishing.states import PostStatus, PostStep
from zakipost.tiktok import (
    CreatorInfo,
    DailyPostCapReached,
    FileUploadSource,
    InitResult,
    PhotoPostInfo,
    PrivacyLevelOptionMismatch,
    PublishState,
    PublishStatus,
    PullFromUrlSource,
    TikTokPostingRefused,
    TikTokRateLimited,
    UploadProgress,
    UploadUrlExpired,
    UrlOwnershipUnverified,
    VideoPostInfo,
    plan_chunks,
)
from zakipost.worker import JobContext

T = TypeVar("T")
Fenced = Callable[[], Any]

POLL_DELAYS = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 30.0)
LATE_POLL_INTERVAL = dt.timedelta(minutes=10)
LATE_POLL_WINDOW = dt.timedelta(hours=24)
DAY = dt.timedelta(hours=24)


class Step:
    """One post's run: its job context, the dependencies, and the post's id."""

    def __init__(self, ctx: JobContext, deps: PipelineDeps, post_id: uuid.UUID) -> None:
        self.ctx = ctx
        self.deps = deps
        self.post_id = post_id

    def now(self) -> dt.datetime:
        return self.deps.clock()

    async def load(self) -> Post:
        async with self.deps.sessionmaker() as session:
            post = await session.get(Post, self.post_id)
        if post is None:
            raise PostFailure("post_missing", "The post no longer exists.")
        return post

    async def write(self, change: Callable[[AsyncSession, Post], Any]) -> None:
        """Apply ``change`` (plain or async) to the post in a transaction fenced by this
        job's lease."""
        async with self.ctx.fenced() as session:
            post = await session.get(Post, self.post_id, with_for_update=True)
            if post is None:
                raise PostFailure("post_missing", "The post no longer exists.")
            result = change(session, post)
            if asyncio.iscoroutine(result):
                await result

    async def advance(self, step: PostStep, message: str, **fields: Any) -> None:
        def change(session: AsyncSession, post: Post) -> None:
            for name, value in fields.items():
                setattr(post, name, value)
            if (post.options or {}).get("step_failures"):
                post.options = {k: v for k, v in post.options.items() if k != "step_failures"}
            machine.transition(
                session, post, PostStatus.processing, message, step=step, now=self.now()
            )

        await self.write(change)

    async def spend(self, connection_id: uuid.UUID, family: budget.Family) -> None:
        """Take one request from a TikTok budget, or defer until one frees."""
        limit = budget.limit_of(self.deps.settings.publishing, family)
        async with self.deps.sessionmaker() as session, session.begin():
            free_at = await budget.reserve(session, connection_id, family, limit, self.now())
        if free_at is not None:
            raise PostDeferred(free_at, f"TikTok allows {limit} {family} requests a minute")

    async def tiktok(
        self, post: Post, family: budget.Family | None, call: Callable[[str], Awaitable[T]]
    ) -> T:
        if family is not None:
            await self.spend(post.connection_id, family)
        try:
            return await self.deps.tokens.call(post.connection_id, call)
        except TikTokRateLimited:
            backoff = dt.timedelta(
                seconds=self.deps.settings.publishing.rate_limited_backoff_seconds
            )
            raise PostDeferred(self.now() + backoff, "TikTok asked us to slow down") from None


# -- preflight -----------------------------------------------------------------------------


async def creator_info(step: Step, post: Post) -> CreatorInfo:
    """Fresh creator info (cached briefly on the connection, shared with the API)."""
    async with step.deps.sessionmaker() as session:
        connection = await session.get(Connection, post.connection_id)
    assert connection is not None
    cache_for = dt.timedelta(seconds=step.deps.settings.publishing.creator_info_cache_seconds)
    cached = connection.creator_info
    fetched = connection.creator_info_fetched_at
    if cached and cached.get("can_post") and fetched and step.now() - fetched < cache_for:
        return CreatorInfo.model_validate(
            {k: v for k, v in cached.items() if k in CreatorInfo.model_fields}
        )
    try:
        info = await step.tiktok(
            post, budget.Family.creator_info, step.deps.tiktok.query_creator_info
        )
        refusal = None
    except TikTokPostingRefused as exc:
        info, refusal = None, exc
    async with step.deps.sessionmaker() as session, session.begin():
        row = await session.get(Connection, post.connection_id, with_for_update=True)
        if row is not None:
            row.creator_info = creator_info_record(row.creator_info, info, refusal)
            row.creator_info_fetched_at = step.now()
    if refusal is not None:
        raise await posting_refused(step, post, refusal)
    assert info is not None
    return info


async def posting_refused(step: Step, post: Post, refusal: TikTokPostingRefused) -> Exception:
    """TikTok says the creator cannot post now: wait for the cap to free, or fail."""
    if isinstance(refusal, DailyPostCapReached):
        await learn_daily_cap(step, post)
        return await cap_reached(step, post, "TikTok says the creator reached its daily post cap")
    if getattr(refusal, "temporary", False):
        return PostDeferred(await next_free_slot(step, post), refusal.message or refusal.code)
    if isinstance(refusal, PrivacyLevelOptionMismatch):
        return PostFailure(
            "privacy_level_not_allowed",
            refusal.message or "TikTok refused the privacy level.",
            caller_error=True,
        )
    if isinstance(refusal, UrlOwnershipUnverified):
        return PostFailure(
            "url_ownership_unverified", "TikTok refused to pull the media from an unverified URL."
        )
    return PostFailure(refusal.code, refusal.message or "TikTok refused the post.", retryable=False)


async def learn_daily_cap(step: Step, post: Post) -> None:
    """TikTok's cap varies by creator: remember how many posts it took to reach it."""
    async with step.deps.sessionmaker() as session, session.begin():
        sent = await session.scalar(
            select(func.count())
            .select_from(Post)
            .where(
                Post.connection_id == post.connection_id,
                Post.submitted_at > step.now() - DAY,
                Post.id != post.id,
            )
        )
        connection = await session.get(Connection, post.connection_id, with_for_update=True)
        if connection is not None and sent:
            connection.daily_post_cap = min(connection.daily_post_cap, int(sent))


async def next_free_slot(step: Step, post: Post) -> dt.datetime:
    """When the creator's rolling 24-hour cap frees a slot, as far as ZakiPost has seen."""
    async with step.deps.sessionmaker() as session:
        oldest = await session.scalar(
            select(func.min(Post.submitted_at)).where(
                Post.connection_id == post.connection_id,
                Post.submitted_at > step.now() - DAY,
                Post.id != post.id,
            )
        )
    return (oldest + DAY) if oldest is not None else step.now() + dt.timedelta(hours=1)


async def check_daily_cap(step: Step, post: Post) -> None:
    async with step.deps.sessionmaker() as session:
        connection = await session.get(Connection, post.connection_id)
        sent = await session.scalar(
            select(func.count())
            .select_from(Post)
            .where(
                Post.connection_id == post.connection_id,
                Post.submitted_at > step.now() - DAY,
                Post.id != post.id,
            )
        )
    cap = connection.daily_post_cap if connection else 15
    if (sent or 0) >= cap:
        raise await cap_reached(
            step, post, f"The creator reached TikTok's cap of {cap} posts in 24 hours"
        )


async def reserve_daily_slot(step: Step, post: Post) -> None:
    """Take one of the creator's 24-hour slots before the init, under the connection's row
    lock, so posts processed at once by several workers cannot all squeeze into the last
    slot. The reservation is ``submitted_at``; a post that fails before TikTok has it gives
    the slot back."""
    if post.post_mode is PostMode.draft:
        return
    async with step.deps.sessionmaker() as session, session.begin():
        connection = await session.get(Connection, post.connection_id, with_for_update=True)
        cap = connection.daily_post_cap if connection else 15
        sent = await session.scalar(
            select(func.count())
            .select_from(Post)
            .where(
                Post.connection_id == post.connection_id,
                Post.submitted_at > step.now() - DAY,
                Post.id != post.id,
            )
        )
        if (sent or 0) < cap:
            row = await session.get(Post, post.id)
            assert row is not None
            row.submitted_at = row.submitted_at or step.now()
            return
    raise await cap_reached(
        step, post, f"The creator reached TikTok's cap of {cap} posts in 24 hours"
    )


async def cap_reached(step: Step, post: Post, reason: str) -> Exception:
    """Defer to the next free slot, or fail when the caller asked (on_daily_cap: fail)."""
    if (post.options or {}).get("on_daily_cap") == "fail":
        return PostFailure(
            "daily_post_cap_reached",
            f"{reason}; the request asked to fail rather than wait (on_daily_cap: fail).",
            retryable=True,
        )
    return PostDeferred(await next_free_slot(step, post), reason)


def interactions(post: Post, info: CreatorInfo) -> dict[str, bool]:
    """The interaction switches to send: what was asked, within what the creator allows.
    Photos have comments only."""
    chosen: dict[str, bool] = {}
    switches = [("comment", info.comment_disabled)]
    if post.kind is MediaKind.video:
        switches += [("duet", info.duet_disabled), ("stitch", info.stitch_disabled)]
    for name, disabled_by_creator in switches:
        asked: bool | None = getattr(post, f"disable_{name}")
        if disabled_by_creator and asked is False:
            raise PostFailure(
                f"{name}_disabled_by_creator",
                f"This TikTok account has {name}s turned off in its settings, so they cannot be "
                f"allowed on this post; send disable_{name}: true or leave it out.",
                caller_error=True,
            )
        chosen[f"disable_{name}"] = bool(asked) or disabled_by_creator
    return chosen


async def preflight(step: Step, post: Post) -> None:
    info = await creator_info(step, post)
    options = {
        **(post.options or {}),
        "max_video_post_duration_sec": info.max_video_post_duration_sec,
        "creator_nickname": info.creator_nickname,
    }
    message = f"Creator info checked ({info.creator_nickname or 'creator'})."
    draft = post.post_mode is PostMode.draft
    if post.kind is MediaKind.photo or not draft:
        # Photo drafts carry a privacy level too (TikTok requires one for MEDIA_UPLOAD photos).
        privacy = post.privacy_level or "SELF_ONLY"
        if privacy not in info.privacy_level_options:
            raise PostFailure(
                "privacy_level_not_allowed",
                f"This TikTok account does not offer {privacy}; choose one of: "
                + ", ".join(info.privacy_level_options)
                + ".",
                caller_error=True,
            )
        options["privacy_level"] = privacy
        if post.privacy_level is None:
            message += (
                " privacy_level was not given: the post is SELF_ONLY (only the creator sees it)."
            )
    if not draft:
        options.update(interactions(post, info))
        await check_daily_cap(step, post)
    await step.advance(PostStep.fetching, message, options=options)


# -- media ---------------------------------------------------------------------------------


async def fetch(step: Step, post: Post) -> None:
    settings = step.deps.settings
    step.deps.media_dir.mkdir(parents=True, exist_ok=True)
    media_key = (post.options or {}).get("media_key")
    if media_key:
        await use_upload(step, media_key)
        return
    assert post.video_url is not None
    fetched = await media_fetch.fetch_to_file(
        post.video_url,
        step.deps.media_dir,
        allow_private_networks=settings.media.allow_private_networks,
        max_bytes=settings.media.max_bytes,
        connect_timeout=settings.media.connect_timeout_seconds,
        read_timeout=settings.media.read_timeout_seconds,
        max_redirects=settings.media.max_redirects,
        transport=step.deps.media_transport,
        resolver=step.deps.media_resolver,
        allowed_networks=settings.media.allowed_networks,
    )
    await step.advance(
        PostStep.probing,
        f"Video fetched ({fetched.size:,} bytes).",
        media_path=str(fetched.path),
        media_size=fetched.size,
        media_sha256=fetched.sha256,
    )


async def use_upload(step: Step, media_key: str) -> None:
    """A video uploaded to ZakiPost: use the store's file in place, or download it."""
    store = step.deps.store
    local = store.local_path(media_key)
    if local is not None and await asyncio.to_thread(local.exists):
        path, owned = local, False
    else:
        path, owned = step.deps.media_dir / f"{uuid.uuid4().hex}-{media_key}", True
        await store.download_to(media_key, path)
    size = (await asyncio.to_thread(path.stat)).st_size
    post = await step.load()
    await step.advance(
        PostStep.probing,
        f"Uploaded video taken from the media store ({size:,} bytes).",
        media_path=str(path),
        media_size=size,
        options={**(post.options or {}), "media_path_owned": owned},
    )


def _verified_for_pull(step: Step, url: str | None) -> bool:
    prefixes = step.deps.settings.tiktok.verified_url_prefixes
    return bool(url) and any(url.startswith(p) for p in prefixes)  # type: ignore[union-attr]


async def probe(step: Step, post: Post) -> None:
    path = Path(post.media_path or "")
    info = await asyncio.to_thread(media_probe.probe_video, path)
    max_duration = (post.options or {}).get("max_video_post_duration_sec") or 600
    media_probe.check_video(info, max_duration_sec=int(max_duration))
    transfer = (
        Transfer.pull_from_url if _verified_for_pull(step, post.video_url) else Transfer.file_upload
    )
    await step.advance(
        PostStep.initializing,
        f"Video checked: {info.width}×{info.height}, {info.duration:.1f} s, "
        f"{info.fps or 0:.0f} fps; sending it to TikTok by {transfer.value}.",
        media_info=info.as_dict(),
        transfer=transfer,
    )


# -- transfer ------------------------------------------------------------------------------


def post_info(post: Post) -> VideoPostInfo:
    options = post.options or {}
    return VideoPostInfo(
        privacy_level=options.get("privacy_level") or post.privacy_level or "SELF_ONLY",
        title=post.title,
        disable_comment=bool(options.get("disable_comment")),
        disable_duet=bool(options.get("disable_duet")),
        disable_stitch=bool(options.get("disable_stitch")),
        video_cover_timestamp_ms=post.video_cover_timestamp_ms,
        brand_content_toggle=post.brand_content_toggle,
        brand_organic_toggle=post.brand_organic_toggle,
        is_aigc=post.is_aigc,
    )


async def initialize(step: Step, post: Post) -> None:
    """Call TikTok's init. Reached again after a crash: a FILE_UPLOAD init may be repeated
    (no chunk was sent, so nothing can have posted); a PULL_FROM_URL one may not."""
    if post.tiktok_publish_id is not None:
        await step.advance(_after_init(post), "Resuming after init.")
        return
    if post.transfer is Transfer.pull_from_url and (post.options or {}).get("init_attempted"):
        raise PostUndetermined(
            "ZakiPost stopped while asking TikTok to pull the video and cannot tell whether TikTok "
            "received the request; it was not sent again. Check the TikTok app."
        )
    await reserve_daily_slot(step, post)
    await step.spend(post.connection_id, budget.Family.init)
    if post.transfer is Transfer.file_upload:
        plan = plan_chunks(post.media_size or 0)
        source: FileUploadSource | PullFromUrlSource = FileUploadSource.from_plan(plan)
        chunk_size: int | None = plan.chunk_size
    else:
        assert post.video_url is not None
        source, chunk_size = PullFromUrlSource(video_url=post.video_url), None

    def mark(session: AsyncSession, row: Post) -> None:
        row.options = {**(row.options or {}), "init_attempted": True}
        row.chunk_size = chunk_size

    await step.write(mark)
    try:
        result: InitResult = await step.tiktok(post, None, init_call(step, post, source))
    except UrlOwnershipUnverified:
        # TikTok refused to pull, so nothing was created: send the bytes instead.
        def fallback(session: AsyncSession, row: Post) -> None:
            row.transfer = Transfer.file_upload
            row.options = {**(row.options or {}), "init_attempted": False}
            machine.note(
                session,
                row,
                "TikTok has not verified this URL prefix; uploading the file instead.",
                now=step.now(),
            )

        await step.write(fallback)
        return
    except TikTokPostingRefused as refusal:
        raise await posting_refused(step, post, refusal) from None
    upload_url = result.upload_url
    encrypted = (
        step.deps.vault.seal(upload_url, context=f"posts.upload_url:{post.id}")
        if upload_url
        else None
    )
    now = step.now()
    submitted = post.transfer is Transfer.pull_from_url
    await step.advance(
        PostStep.uploading if post.transfer is Transfer.file_upload else PostStep.awaiting_tiktok,
        "TikTok accepted the post"
        + (" and is pulling the video." if submitted else "; uploading the video."),
        tiktok_publish_id=result.publish_id,
        upload_url_encrypted=encrypted,
        upload_expires_at=now + dt.timedelta(hours=1) if upload_url else None,
        uploaded_bytes=0,
    )


def init_call(
    step: Step, post: Post, source: FileUploadSource | PullFromUrlSource
) -> Callable[[str], Awaitable[InitResult]]:
    client = step.deps.tiktok
    if post.post_mode is PostMode.draft:
        return lambda token: client.init_inbox_video(token, source=source)
    info = post_info(post)
    return lambda token: client.init_direct_video(token, post_info=info, source=source)


async def initialize_photos(step: Step, post: Post) -> None:
    """Photos always go by PULL_FROM_URL, so an init that may have reached TikTok is never
    repeated."""
    if post.tiktok_publish_id is not None:
        await step.advance(PostStep.awaiting_tiktok, "Resuming after init.")
        return
    if (post.options or {}).get("init_attempted"):
        raise PostUndetermined(
            "ZakiPost stopped while asking TikTok to pull the photos and cannot tell whether "
            "TikTok received the request; it was not sent again. Check the TikTok app."
        )
    await reserve_daily_slot(step, post)
    await step.spend(post.connection_id, budget.Family.init)

    def mark(session: AsyncSession, row: Post) -> None:
        row.options = {**(row.options or {}), "init_attempted": True}
        row.transfer = Transfer.pull_from_url

    await step.write(mark)
    options = post.options or {}
    draft = post.post_mode is PostMode.draft
    info = PhotoPostInfo(
        title=post.title,
        description=post.description,
        privacy_level=options.get("privacy_level") or post.privacy_level or "SELF_ONLY",
        disable_comment=bool(options.get("disable_comment")) and not draft,
        auto_add_music=bool(options.get("auto_add_music")) and not draft,
        brand_content_toggle=post.brand_content_toggle and not draft,
        brand_organic_toggle=post.brand_organic_toggle and not draft,
    )
    urls = [p["public_url"] for p in options.get("photos") or []]
    cover = int(options.get("photo_cover_index") or 0)
    try:
        result: InitResult = await step.tiktok(
            post,
            None,
            lambda token: step.deps.tiktok.init_photo(
                token,
                post_mode="MEDIA_UPLOAD" if draft else "DIRECT_POST",
                post_info=info,
                photo_urls=urls,
                cover_index=cover,
                is_aigc=post.is_aigc or None,
            ),
        )
    except TikTokPostingRefused as refusal:
        raise await posting_refused(step, post, refusal) from None
    await step.advance(
        PostStep.awaiting_tiktok,
        "TikTok accepted the carousel and is pulling the images.",
        tiktok_publish_id=result.publish_id,
        submitted_at=step.now(),
    )


def _after_init(post: Post) -> PostStep:
    return PostStep.uploading if post.transfer is Transfer.file_upload else PostStep.awaiting_tiktok


async def upload(step: Step, post: Post) -> None:
    assert post.upload_url_encrypted and post.media_size and post.chunk_size
    if post.upload_expires_at and post.upload_expires_at <= step.now():
        await restart_upload(step, "TikTok's one-hour upload window closed before the last chunk")
        return
    upload_url = step.deps.vault.open(
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

    async def progress(p: UploadProgress) -> None:
        def record(session: AsyncSession, row: Post) -> None:
            row.uploaded_bytes = p.next_offset

        await step.write(record)

    async def before_final_chunk() -> None:
        await step.advance(PostStep.final_chunk, "Sending the last chunk.", submitted_at=step.now())

    try:
        outcome = await step.deps.tiktok.upload(
            upload_url,
            path,
            plan,
            content_type=content_type,
            start_at=post.uploaded_bytes,
            progress=progress,
            on_before_final_chunk=before_final_chunk,
        )
    except UploadUrlExpired:
        current = await step.load()
        if current.step is PostStep.final_chunk:
            raise
        await restart_upload(step, "TikTok's upload URL expired before the last chunk")
        return
    await step.advance(
        PostStep.awaiting_tiktok,
        f"Video uploaded in {outcome.progress.total_chunks} chunk(s); TikTok is processing it.",
        uploaded_bytes=outcome.progress.next_offset,
        upload_url_encrypted=None,
    )


async def restart_upload(step: Step, why: str) -> None:
    """Start the transfer over with a new init: allowed only before the final chunk."""

    def reset(session: AsyncSession, row: Post) -> None:
        row.tiktok_publish_id = None
        row.upload_url_encrypted = None
        row.uploaded_bytes = 0
        row.options = {**(row.options or {}), "init_attempted": False}
        machine.transition(
            session,
            row,
            PostStatus.processing,
            f"{why}; starting the upload over.",
            step=PostStep.initializing,
            now=step.now(),
        )

    await step.write(reset)


async def resume_final_chunk(step: Step, post: Post) -> None:
    """After a crash around the final chunk: TikTok's status says whether it arrived."""
    status = await fetch_status(step, post)
    total = post.media_size or 0
    if status.status == PublishState.PROCESSING_UPLOAD and (status.uploaded_bytes or 0) < total:
        if post.upload_expires_at and post.upload_expires_at > step.now():
            await step.advance(
                PostStep.uploading, "The last chunk had not arrived; sending it again."
            )
            return
        await restart_upload(
            step, "The last chunk never reached TikTok and the upload window closed"
        )
        return
    await step.advance(PostStep.awaiting_tiktok, "TikTok has the whole video; checking its status.")


# -- outcome -------------------------------------------------------------------------------


async def fetch_status(step: Step, post: Post) -> PublishStatus:
    assert post.tiktok_publish_id is not None
    publish_id = post.tiktok_publish_id
    status: PublishStatus = await step.tiktok(
        post, budget.Family.status, lambda token: step.deps.tiktok.fetch_status(token, publish_id)
    )

    def record(session: AsyncSession, row: Post) -> None:
        row.tiktok_status = status.status
        row.status_checks += 1
        if status.publicly_available_post_ids:
            row.tiktok_post_ids = list(status.publicly_available_post_ids)

    await step.write(record)
    return status


async def await_tiktok(step: Step, post: Post) -> bool:
    """Check TikTok's status once; True when the post reached an end."""
    status = await fetch_status(step, post)
    if status.status == PublishState.PUBLISH_COMPLETE:
        await finish(
            step,
            PostStatus.published,
            "Published on TikTok.",
            post_ids=status.publicly_available_post_ids,
        )
        return True
    if status.status == PublishState.SEND_TO_USER_INBOX:
        if post.status is not PostStatus.in_inbox:
            await finish(
                step,
                PostStatus.in_inbox,
                "Sent to the creator's TikTok inbox; they open TikTok's notification to finish it.",
            )
        return await await_draft(step, post)
    if status.status == PublishState.FAILED:
        raise from_fail_reason(status.fail_reason)
    submitted = post.submitted_at or post.created_at
    waited = step.now() - submitted
    if waited > dt.timedelta(seconds=step.deps.settings.publishing.status_deadline_seconds):
        if post.status is not PostStatus.unknown:
            raise PostUndetermined(
                f"TikTok was still processing this post after {int(waited.total_seconds() // 60)} "
                "minutes; ZakiPost keeps checking for a day."
            )
        if waited > LATE_POLL_WINDOW:
            return True
        raise PostDeferred(step.now() + LATE_POLL_INTERVAL, "still processing at TikTok")
    delay = POLL_DELAYS[min(post.status_checks, len(POLL_DELAYS) - 1)]
    raise PostDeferred(step.now() + dt.timedelta(seconds=delay), "TikTok is processing the post")


DRAFT_POLL_INTERVAL = dt.timedelta(minutes=1)
DRAFT_WATCH = dt.timedelta(days=7)


async def await_draft(step: Step, post: Post) -> bool:
    """A draft in the inbox becomes published when the creator posts it; keep an eye on it
    for a week, gently (its status checks share the per-token budget)."""
    waited = step.now() - (post.finished_at or step.now())
    if waited > DRAFT_WATCH:
        return True
    interval = DRAFT_POLL_INTERVAL if waited < dt.timedelta(hours=1) else LATE_POLL_INTERVAL
    raise PostDeferred(step.now() + interval, "waiting for the creator to post the draft")


async def finish(
    step: Step, status: PostStatus, message: str, *, post_ids: list[str] | None = None
) -> None:
    def change(session: AsyncSession, row: Post) -> None:
        if post_ids:
            row.tiktok_post_ids = list(post_ids)
        row.upload_url_encrypted = None
        machine.transition(session, row, status, message, step=PostStep.done, now=step.now())

    await step.write(change)
    await discard_media(step)


async def discard_media(step: Step) -> None:
    """Remove what the post fetched or prepared once TikTok has it (or never will)."""
    from zakipost.publishing.photos import store_keys
    from zakipost.upload.service import release_post_media

    post = await step.load()
    if post.media_path and (post.options or {}).get("media_path_owned", True):
        await asyncio.to_thread(Path(post.media_path).unlink, missing_ok=True)
    keys = store_keys(post)
    if keys:
        async with step.deps.sessionmaker() as session, session.begin():
            await release_post_media(session, step.deps.store, keys, now=step.now())
