"""FILE_UPLOAD: the chunk plan (pure) and the streaming, resumable chunk uploader.

TikTok never defines "MB" in its chunk rules. Every limit below is the stricter of the decimal
(10**6) and binary (2**20) readings, so a plan is valid under both.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import IO

import httpx

from zakipost.tiktok._errors import (
    ChunkPlanError,
    TikTokError,
    TikTokTransportError,
    UploadError,
    UploadInterrupted,
    UploadRangeMismatch,
    UploadTaskNotFound,
    UploadUrlExpired,
    VideoTooLarge,
    error_for_status,
)
from zakipost.tiktok._models import ChunkPlan, UploadOutcome, UploadProgress

logger = logging.getLogger("zakipost.tiktok")

MIN_CHUNK_SIZE = 5 * 1024 * 1024
"""5 MB, binary reading: smaller chunks (and smaller whole files) are not split."""
MAX_CHUNK_SIZE = 64_000_000
"""64 MB, decimal reading: the largest chunk_size, and the largest single-PUT file."""
MAX_FINAL_CHUNK_SIZE = 128_000_000
"""128 MB, decimal reading: the final chunk absorbs the remainder up to this size."""
MAX_CHUNK_COUNT = 1000
"""The most chunks one upload may have."""
MAX_VIDEO_SIZE = 4_000_000_000
"""4 GB, decimal reading: larger files are refused before TikTok sees them."""
VIDEO_CONTENT_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm"})
"""The ``Content-Type`` values TikTok documents for the upload PUT."""
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
DEFAULT_BLOCK_SIZE = 1024 * 1024

MediaSource = str | os.PathLike[str] | Callable[[], IO[bytes]]
"""A path, or a callable that opens the media as a seekable binary file."""

ProgressCallback = Callable[[UploadProgress], Awaitable[None] | None]
"""Called after TikTok confirms progress; may be a coroutine function."""

BeforeFinalChunk = Callable[[], Awaitable[None] | None]
"""Called once before the final chunk is sent; may be a coroutine function."""

Sleep = Callable[[float], Awaitable[None]]

_PROGRESS_HEADER = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def chunk_plan_violations(plan: ChunkPlan) -> list[str]:
    """Every way ``plan`` breaks TikTok's chunk rules; an empty list means it is valid."""
    size, chunk, count = plan.video_size, plan.chunk_size, plan.total_chunk_count
    problems = []
    if size > MAX_VIDEO_SIZE:
        problems.append(f"the video is larger than {MAX_VIDEO_SIZE} bytes")
    if count != size // chunk or count != len(plan.chunks):
        problems.append("total_chunk_count must be floor(video_size / chunk_size)")
    if not 1 <= count <= MAX_CHUNK_COUNT:
        problems.append(f"there must be 1 to {MAX_CHUNK_COUNT} chunks")
    if count == 1 and chunk != size:
        problems.append("a single-chunk upload must use chunk_size = video_size")
    if size < MIN_CHUNK_SIZE:
        if count != 1:
            problems.append(f"a video under {MIN_CHUNK_SIZE} bytes must be sent whole")
    elif not MIN_CHUNK_SIZE <= chunk <= MAX_CHUNK_SIZE:
        problems.append(f"chunk_size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE}")
    if size > MAX_CHUNK_SIZE and count < 2:
        problems.append(f"a video over {MAX_CHUNK_SIZE} bytes must be sent in several chunks")
    if plan.chunks and plan.chunks[-1].size > MAX_FINAL_CHUNK_SIZE:
        problems.append(f"the final chunk must be at most {MAX_FINAL_CHUNK_SIZE} bytes")
    return problems


def plan_chunks(video_size: int, *, chunk_size: int | None = None) -> ChunkPlan:
    """Plan a FILE_UPLOAD of ``video_size`` bytes.

    Without ``chunk_size``, files up to 64,000,000 bytes go in one PUT and larger files in
    64,000,000-byte chunks (halves, for files under 128,000,000 bytes), with the final chunk
    absorbing the remainder. With ``chunk_size`` (for example one sent in an earlier init),
    the plan is rebuilt and checked. Raises ``VideoTooLarge`` over 4 GB and
    ``ChunkPlanError`` for a plan TikTok would reject.
    """
    if video_size < 1:
        raise ChunkPlanError("the video is empty")
    if video_size > MAX_VIDEO_SIZE:
        raise VideoTooLarge(
            f"the video has {video_size} bytes; TikTok accepts at most {MAX_VIDEO_SIZE}"
        )
    if chunk_size is None:
        chunk_size = (
            video_size if video_size <= MAX_CHUNK_SIZE else min(MAX_CHUNK_SIZE, video_size // 2)
        )
    if not 1 <= chunk_size <= video_size:
        raise ChunkPlanError("chunk_size must be between 1 and video_size")
    plan = ChunkPlan.from_chunk_size(video_size, chunk_size)
    if problems := chunk_plan_violations(plan):
        raise ChunkPlanError("; ".join(problems))
    return plan


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result


def _open_media(media: MediaSource) -> IO[bytes]:
    return media() if callable(media) else open(media, "rb")


def _size_of(handle: IO[bytes]) -> int:
    return handle.seek(0, os.SEEK_END)


def _progress_offsets(response: httpx.Response) -> list[int]:
    """Candidate offsets TikTok expects next, read from its ``Content-Range`` header.

    TikTok reports ``bytes 0-{UPLOADED_BYTES}/{TOTAL}`` without saying whether the upper
    bound is the last byte received or a byte count; the last-index reading comes first.
    """
    match = _PROGRESS_HEADER.match(response.headers.get("Content-Range", ""))
    if match is None:
        return []
    upper = int(match.group(2))
    return [upper + 1, upper]


class ChunkUploader:
    """PUTs the chunks of a plan to an upload_url, streaming each from disk."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        sleep: Sleep = asyncio.sleep,
        block_size: int = DEFAULT_BLOCK_SIZE,
        observer: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self._http = http
        self._retry_delays = tuple(retry_delays)
        self._sleep = sleep
        self._block_size = block_size
        self._observer = observer

    async def upload(
        self,
        upload_url: str,
        media: MediaSource,
        plan: ChunkPlan,
        *,
        content_type: str,
        start_at: int = 0,
        progress: ProgressCallback | None = None,
        on_before_final_chunk: BeforeFinalChunk | None = None,
    ) -> UploadOutcome:
        """Send the chunks from byte ``start_at`` on; see ``TikTokClient.upload``."""
        if content_type not in VIDEO_CONTENT_TYPES:
            raise ValueError(f"content_type must be one of {sorted(VIDEO_CONTENT_TYPES)}")
        index = plan.chunk_starting_at(start_at)
        if index is None:
            raise ValueError("start_at must be the first byte of a chunk in the plan")
        handle = await asyncio.to_thread(_open_media, media)
        try:
            actual = await asyncio.to_thread(_size_of, handle)
            if actual != plan.video_size:
                raise ValueError(
                    f"the file has {actual} bytes but the plan is for {plan.video_size}"
                )
            return await self._send_chunks(
                upload_url, handle, plan, index, content_type, progress, on_before_final_chunk
            )
        finally:
            await asyncio.to_thread(handle.close)

    async def _send_chunks(
        self,
        url: str,
        handle: IO[bytes],
        plan: ChunkPlan,
        index: int,
        content_type: str,
        progress: ProgressCallback | None,
        on_before_final_chunk: BeforeFinalChunk | None,
    ) -> UploadOutcome:
        sent = skipped = requests = 0
        final_announced = False
        last = plan.total_chunk_count - 1
        while index <= last:
            if index == last and not final_announced:
                if on_before_final_chunk is not None:
                    await _maybe_await(on_before_final_chunk())
                final_announced = True
            response, attempts = await self._put(url, handle, plan, index, content_type)
            requests += attempts
            status = response.status_code
            if status == 206 and index < last:
                index, sent = index + 1, sent + 1
            elif status == 201 or (status == 200 and index == last):
                index, sent = plan.total_chunk_count, sent + 1
            elif status == 416:
                resumed = self._resume_index(response, plan, index)
                skipped += resumed - index
                index = resumed
            else:
                raise self._put_error(response, _progress(plan, index), index == last)
            if progress is not None:
                await _maybe_await(progress(_progress(plan, index)))
        return UploadOutcome(_progress(plan, index), sent, skipped, requests)

    async def _put(
        self, url: str, handle: IO[bytes], plan: ChunkPlan, index: int, content_type: str
    ) -> tuple[httpx.Response, int]:
        """PUT one chunk, retrying it on 5xx, 429 and transport errors."""
        chunk = plan.chunks[index]
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(chunk.size),
            "Content-Range": chunk.content_range(plan.video_size),
        }
        failure: TikTokError | None = None
        for attempt, delay in enumerate((0.0, *self._retry_delays), start=1):
            if failure is not None:
                logger.warning(
                    "TikTok upload of chunk %d/%d failed (%s); retrying in %.1fs",
                    index + 1,
                    plan.total_chunk_count,
                    failure.code,
                    delay,
                )
                await self._sleep(delay)
            body = self._read_chunk(handle, chunk.start, chunk.size)
            started = time.perf_counter()
            try:
                response = await self._http.put(url, content=body, headers=headers)
            except httpx.TransportError as exc:
                self._observe("transport_error", started)
                # Host and path only: the upload URL's query carries its token.
                target = httpx.URL(url)
                failure = TikTokTransportError(
                    f"the upload request to {target.host} (PUT {target.path}) failed: "
                    f"{type(exc).__name__}",
                    code="transport_error",
                )
                continue
            finally:
                await body.aclose()
            # 416 is TikTok saying where it is: an answer the upload moves on with.
            ok = response.status_code < 400 or response.status_code == 416
            self._observe("ok" if ok else f"http_{response.status_code}", started)
            if response.status_code >= 500 or response.status_code == 429:
                failure = error_for_status(response.status_code, "TikTok's upload server failed")
                continue
            return response, attempt
        assert failure is not None
        raise UploadInterrupted(
            f"chunk {index + 1}/{plan.total_chunk_count} failed {attempt} times; the upload "
            "can be resumed from the reported progress",
            code=failure.code,
            http_status=failure.http_status,
            progress=_progress(plan, index),
        ) from failure

    def _observe(self, outcome: str, started: float) -> None:
        if self._observer is not None:
            self._observer("upload", outcome, time.perf_counter() - started)

    async def _read_chunk(
        self, handle: IO[bytes], start: int, size: int
    ) -> AsyncGenerator[bytes, None]:
        """Yield the chunk in blocks so memory stays constant whatever the chunk size."""
        await asyncio.to_thread(handle.seek, start)
        remaining = size
        while remaining:
            block = await asyncio.to_thread(handle.read, min(self._block_size, remaining))
            if not block:
                raise ValueError("the file ended early: it changed after the chunk plan was made")
            remaining -= len(block)
            yield block

    @staticmethod
    def _resume_index(response: httpx.Response, plan: ChunkPlan, index: int) -> int:
        """Where to continue after a 416, from TikTok's progress header; only ever forward.

        Moving backwards would re-send bytes TikTok already confirmed, and staying put
        would loop, so both are a mismatch the caller must resolve.
        """
        for offset in _progress_offsets(response):
            resumed = plan.chunk_starting_at(offset)
            if resumed is not None and resumed > index:
                return resumed
        raise UploadRangeMismatch(
            f"TikTok rejected chunk {index + 1}/{plan.total_chunk_count} as out of order and "
            f"its progress header ({response.headers.get('Content-Range', 'absent')}) does "
            "not point past it",
            code="range_mismatch",
            http_status=416,
            progress=_progress(plan, index),
        )

    @staticmethod
    def _put_error(response: httpx.Response, progress: UploadProgress, final: bool) -> UploadError:
        status = response.status_code
        if status == 206 and final:
            return UploadRangeMismatch(
                "TikTok expects more bytes after the final chunk",
                code="range_mismatch",
                http_status=status,
                progress=progress,
            )
        cls: type[UploadError] = {403: UploadUrlExpired, 404: UploadTaskNotFound}.get(
            status, UploadError
        )
        message, code, log_id = "", f"http_{status}", None
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            code = str(error.get("code") or code)
            log_id = error.get("log_id")
        return cls(message, code=code, log_id=log_id, http_status=status, progress=progress)


def _progress(plan: ChunkPlan, index: int) -> UploadProgress:
    offset = plan.video_size if index >= plan.total_chunk_count else plan.chunks[index].start
    return UploadProgress(index, offset, plan.total_chunk_count, plan.video_size)
