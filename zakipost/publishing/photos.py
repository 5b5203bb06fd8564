"""Photo carousels: fetch (or take from uploads) each image, prepare it to TikTok's limits,
put it in the media store under an unguessable key, and let TikTok pull the store's URLs."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.media import fetch as media_fetch
from zakipost.media.photo import prepare_photo
from zakipost.models import Post
from zakipost.publishing import machine
from zakipost.publishing.states import PostStep
from zakipost.publishing.steps import Step
from zakipost.storage.base import new_key


async def _source_file(step: Step, photo: dict[str, Any], scratch: Path) -> Path:
    settings = step.deps.settings
    if "url" in photo:
        fetched = await media_fetch.fetch_to_file(
            photo["url"],
            scratch,
            allow_private_networks=settings.media.allow_private_networks,
            max_bytes=settings.media.max_bytes,
            connect_timeout=settings.media.connect_timeout_seconds,
            read_timeout=settings.media.read_timeout_seconds,
            max_redirects=settings.media.max_redirects,
            transport=step.deps.media_transport,
            resolver=step.deps.media_resolver,
            allowed_networks=settings.media.allowed_networks,
            expect="image",
        )
        return fetched.path
    target = scratch / f"upload-{photo['media_key']}"
    await step.deps.store.download_to(photo["media_key"], target)
    return target


async def prepare(step: Step, post: Post) -> None:
    """Prepare every image not prepared yet; each one's result is recorded as it lands, so
    a retry after a crash picks up where this left off."""
    photos: list[dict[str, Any]] = list((post.options or {}).get("photos") or [])
    step.deps.media_dir.mkdir(parents=True, exist_ok=True)
    for index, photo in enumerate(photos):
        if "prepared_key" in photo:
            continue
        with tempfile.TemporaryDirectory(dir=step.deps.media_dir) as scratch_name:
            scratch = Path(scratch_name)
            source = await _source_file(step, photo, scratch)
            prepared = await asyncio.to_thread(prepare_photo, source, scratch)
            extension = "webp" if prepared.content_type == "image/webp" else "jpg"
            key = new_key(extension)
            stored = await step.deps.store.put_file(
                key, prepared.path, content_type=prepared.content_type
            )
        photos[index] = {
            **photo,
            "prepared_key": key,
            "public_url": step.deps.store.public_url(key),
            "width": prepared.width,
            "height": prepared.height,
            "size": stored.size,
            "sha256": stored.sha256,
        }
        await step.write(_recorder(step, [dict(p) for p in photos], index, prepared.changes))
    await step.advance(PostStep.initializing, f"{len(photos)} image(s) ready for TikTok to pull.")


def _recorder(
    step: Step, photos: list[dict[str, Any]], index: int, changes: list[str]
) -> Callable[[AsyncSession, Post], None]:
    def record(session: AsyncSession, row: Post) -> None:
        row.options = {**(row.options or {}), "photos": photos}
        if changes:
            message = f"Image {index + 1}: " + "; ".join(changes) + "."
            machine.note(session, row, message, now=step.now())

    return record


def prepared_urls(post: Post) -> list[str]:
    return [p["public_url"] for p in (post.options or {}).get("photos") or []]


def store_keys(post: Post) -> list[str]:
    """Every store object this post owns: prepared images and claimed uploads."""
    options = post.options or {}
    keys = [p.get("prepared_key") for p in options.get("photos") or []]
    keys += [p.get("media_key") for p in options.get("photos") or []]
    keys.append(options.get("media_key"))
    return [k for k in keys if k]
