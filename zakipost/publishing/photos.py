"""Photo carousels: fetch (or take from uploads) each image, prepare it to TikTok's limits,
put it in the media store under an unguessable key, and let TikTok pull the store's URLs.
Photos always go by PULL_FROM_URL, so an init that may have reached TikTok is never sent
again."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.media.photo import prepare_photo
from zakipost.models import PhotoSource, Post, PostMode, PreparedPhoto, Transfer
from zakipost.publishing import daily_cap, machine
from zakipost.publishing.failures import PostUndetermined, not_in_store
from zakipost.publishing.preflight import posting_refused, prepare_init
from zakipost.publishing.run import PostRun
from zakipost.publishing.states import PostStep
from zakipost.storage.base import new_key
from zakipost.storage.errors import StoredObjectNotFound
from zakipost.tiktok import InitResult, PhotoPostInfo, TikTokPostingRefused


async def _source_file(run: PostRun, photo: PhotoSource, scratch: Path) -> Path:
    if photo.url is not None:
        fetched = await run.deps.fetch_media(photo.url, scratch, expect="image")
        return fetched.path
    assert photo.media_key is not None
    target = scratch / f"upload-{photo.media_key}"
    try:
        await run.deps.store.download_to(photo.media_key, target)
    except StoredObjectNotFound:
        raise not_in_store(run.deps.settings, photo.media_key) from None
    return target


async def prepare(run: PostRun, post: Post) -> None:
    """Prepare every image not prepared yet; each one's result is recorded as it lands, so
    a retry after a crash picks up where this left off."""
    run.deps.media_dir.mkdir(parents=True, exist_ok=True)
    prepared = post.prepared_photos
    for index in range(len(prepared), len(post.request.photos)):
        with tempfile.TemporaryDirectory(dir=run.deps.media_dir) as scratch_name:
            scratch = Path(scratch_name)
            source = await _source_file(run, post.request.photos[index], scratch)
            image = await asyncio.to_thread(prepare_photo, source, scratch)
            extension = "webp" if image.content_type == "image/webp" else "jpg"
            key = new_key(extension)
            stored = await run.deps.store.put_file(key, image.path, content_type=image.content_type)
        prepared += (
            PreparedPhoto(
                prepared_key=key,
                public_url=run.deps.store.public_url(key),
                width=image.width,
                height=image.height,
                size=stored.size,
                sha256=stored.sha256,
            ),
        )
        await run.write(_recorder(run, prepared, index, image.changes))
    await machine.advance(
        run, PostStep.initializing, f"{len(prepared)} image(s) ready for TikTok to pull."
    )


def _recorder(
    run: PostRun, prepared: tuple[PreparedPhoto, ...], index: int, changes: list[str]
) -> Callable[[AsyncSession, Post], None]:
    def record(session: AsyncSession, row: Post) -> None:
        row.prepared_photos = prepared
        if changes:
            message = f"Image {index + 1}: " + "; ".join(changes) + "."
            machine.note(session, row, message, now=run.now())

    return record


async def initialize(run: PostRun, post: Post) -> None:
    """The carousel's init, by PULL_FROM_URL from the store's URLs."""
    if post.tiktok_publish_id is not None:
        await machine.advance(run, PostStep.awaiting_tiktok, "Resuming after init.")
        return
    if post.init_attempted_at is not None:
        raise PostUndetermined(
            "ZakiPost stopped while asking TikTok to pull the photos and cannot tell whether "
            "TikTok received the request; it was not sent again. Check the TikTok app."
        )

    def intent(row: Post) -> None:
        row.init_attempted_at = run.now()
        row.transfer = Transfer.pull_from_url

    token = await prepare_init(run, post, intent)
    plan = post.plan
    draft = post.post_mode is PostMode.draft
    info = PhotoPostInfo(
        title=post.title,
        description=post.description,
        privacy_level=(plan and plan.privacy_level) or post.privacy_level or "SELF_ONLY",
        disable_comment=bool(plan and plan.disable_comment) and not draft,
        auto_add_music=post.request.auto_add_music and not draft,
        brand_content_toggle=post.brand_content_toggle and not draft,
        brand_organic_toggle=post.brand_organic_toggle and not draft,
    )
    urls = [p.public_url for p in post.prepared_photos]
    try:
        result: InitResult = await run.tiktok(
            post,
            None,
            lambda access_token: run.deps.tiktok.init_photo(
                access_token,
                post_mode="MEDIA_UPLOAD" if draft else "DIRECT_POST",
                post_info=info,
                photo_urls=urls,
                cover_index=post.request.photo_cover_index,
                is_aigc=post.is_aigc or None,
            ),
            token=token,
        )
    except TikTokPostingRefused as refusal:
        raise await posting_refused(run, post, refusal) from None
    await machine.advance(
        run,
        PostStep.awaiting_tiktok,
        "TikTok accepted the carousel and is pulling the images.",
        tiktok_publish_id=result.publish_id,
        also=lambda row: daily_cap.mark_submitted(row, run.now()),
    )
