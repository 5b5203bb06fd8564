"""The video's bytes: fetched from ``video_url`` (or taken from an upload) to local storage,
then probed against TikTok's rules before TikTok sees anything."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from zakipost import metrics
from zakipost.media import probe as media_probe
from zakipost.models import Post, Transfer
from zakipost.publishing import machine
from zakipost.publishing.failures import not_in_store
from zakipost.publishing.run import PostRun
from zakipost.publishing.states import PostStep
from zakipost.storage.errors import StoredObjectNotFound

# When creator info gave no maximum: TikTok's own longest video.
DEFAULT_MAX_DURATION_SEC = 600


async def fetch(run: PostRun, post: Post) -> None:
    run.deps.media_dir.mkdir(parents=True, exist_ok=True)
    if post.request.media_key:
        await use_upload(run, post.request.media_key)
        return
    assert post.video_url is not None
    fetched = await run.deps.fetch_media(post.video_url, run.deps.media_dir)
    await machine.advance(
        run,
        PostStep.probing,
        f"Video fetched ({fetched.size:,} bytes).",
        media_path=str(fetched.path),
        media_size=fetched.size,
        media_sha256=fetched.sha256,
    )


async def use_upload(run: PostRun, media_key: str) -> None:
    """A video uploaded to ZakiPost: use the store's file in place, or download it."""
    store = run.deps.store
    local = store.local_path(media_key)
    if local is not None and await asyncio.to_thread(local.exists):
        path, owned = local, False
    else:
        path, owned = run.deps.media_dir / f"{uuid.uuid4().hex}-{media_key}", True
        try:
            await store.download_to(media_key, path)
        except StoredObjectNotFound:
            raise not_in_store(run.deps.settings, media_key) from None
    size = (await asyncio.to_thread(path.stat)).st_size
    if owned:
        metrics.media_bytes("from_store", size)
    await machine.advance(
        run,
        PostStep.probing,
        f"Uploaded video taken from the media store ({size:,} bytes).",
        media_path=str(path),
        media_size=size,
        media_path_owned=owned,
    )


def _verified_for_pull(run: PostRun, url: str | None) -> bool:
    if not url:
        return False
    return any(url.startswith(p) for p in run.deps.settings.tiktok.verified_url_prefixes)


async def probe(run: PostRun, post: Post) -> None:
    path = Path(post.media_path or "")
    info = await asyncio.to_thread(media_probe.probe_video, path)
    plan = post.plan
    max_duration = (plan.max_video_post_duration_sec if plan else None) or DEFAULT_MAX_DURATION_SEC
    media_probe.check_video(info, max_duration_sec=int(max_duration))
    transfer = (
        Transfer.pull_from_url if _verified_for_pull(run, post.video_url) else Transfer.file_upload
    )
    await machine.advance(
        run,
        PostStep.initializing,
        f"Video checked: {info.width}×{info.height}, {info.duration:.1f} s, "
        f"{info.fps or 0:.0f} fps; sending it to TikTok by {transfer.value}.",
        media_info=info.as_dict(),
        transfer=transfer,
    )
