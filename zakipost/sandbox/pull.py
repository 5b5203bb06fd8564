"""PULL_FROM_URL downloads (api-facts.md §3.5): streamed to disk, no redirects, one-hour limit."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

import httpx

from .media import MAX_PHOTO_BYTES, MAX_VIDEO_BYTES
from .models import MediaFile
from .storage import SpoolFile

if TYPE_CHECKING:
    from .models import Publish
    from .state import Sandbox


class _TooLarge(Exception):
    pass


async def _download(
    client: httpx.AsyncClient, url: str, media: MediaFile, publish: Publish, limit: int
) -> None:
    hasher = hashlib.sha256()
    size = 0
    async with client.stream("GET", url, follow_redirects=False) as response:
        # TikTok treats any redirect as an invalid URL, and only a plain 200 as the media.
        if response.status_code != 200:
            raise httpx.HTTPStatusError(
                f"unexpected status {response.status_code}",
                request=response.request,
                response=response,
            )
        with SpoolFile(media.path, create=True) as spool:
            async for piece in response.aiter_raw():
                size += len(piece)
                publish.downloaded_bytes += len(piece)
                if size > limit:
                    raise _TooLarge
                hasher.update(piece)
                spool.write(piece)
    media.size = size
    media.sha256 = hasher.hexdigest()


async def pull_media(sb: Sandbox, publish: Publish) -> str | None:
    """Fetch every URL of `publish`; returns a fail_reason, or None when all bytes are on disk."""
    video = publish.media_type == "VIDEO"
    failure = "video_pull_failed" if video else "photo_pull_failed"
    urls = [publish.video_url or ""] if video else list(publish.photo_images)
    limit = MAX_VIDEO_BYTES if video else MAX_PHOTO_BYTES
    try:
        async with sb.http_client() as client:

            async def fetch_all() -> None:
                for url, media in zip(urls, publish.media, strict=True):
                    await _download(client, url, media, publish, limit)

            await asyncio.wait_for(fetch_all(), timeout=sb.config.pull_timeout_seconds)
    except _TooLarge:
        return "file_format_check_failed" if video else "picture_size_check_failed"
    except (httpx.HTTPError, OSError, TimeoutError, ValueError):
        return failure
    return None
