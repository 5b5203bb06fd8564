"""FILE_UPLOAD chunk rules at init (api-facts.md §3.4), written independently of the gateway.

1. total_chunk_count = floor(video_size / chunk_size)
2. chunks are 5..64 MB, except the final one, which absorbs the tail (up to 128 MB)
3. videos under 5 MB go whole (chunk_size == video_size, one chunk); over 64 MB need several
4. 1..1000 chunks

"MB" is undefined by TikTok: `binary` (MiB), `decimal` (10^6), or `safe` (only the band
both readings accept: 5,242,880..64,000,000 per chunk).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import MbUnit

MAX_CHUNKS = 1000


@dataclass(frozen=True)
class ChunkLimits:
    min_chunk: int
    max_chunk: int
    max_final_chunk: int
    max_video: int


def limits_for(unit: MbUnit) -> ChunkLimits:
    if unit == "binary":
        mb = 1 << 20
        return ChunkLimits(5 * mb, 64 * mb, 128 * mb, 4 << 30)
    if unit == "decimal":
        mb = 10**6
        return ChunkLimits(5 * mb, 64 * mb, 128 * mb, 4 * 10**9)
    return ChunkLimits(5 << 20, 64 * 10**6, 128 * 10**6, 4 * 10**9)


def chunk_plan_error(
    video_size: int, chunk_size: int, total_chunk_count: int, unit: MbUnit
) -> str | None:
    """None if the declared plan is valid, else TikTok's `invalid_params` message."""
    lim = limits_for(unit)
    if video_size <= 0:
        return "The video size is invalid"
    if video_size > lim.max_video:
        return "The video size exceeds the maximum of 4 GB"
    if chunk_size <= 0:
        return "The chunk size is invalid"
    if total_chunk_count <= 0 or total_chunk_count > MAX_CHUNKS:
        return "The total chunk count is invalid"
    if video_size < lim.min_chunk:
        if chunk_size != video_size:
            return "The chunk size is invalid"
        if total_chunk_count != 1:
            return "The total chunk count is invalid"
        return None
    if chunk_size < lim.min_chunk or chunk_size > lim.max_chunk:
        return "The chunk size is invalid"
    if total_chunk_count != video_size // chunk_size:
        return "The total chunk count is invalid"
    if video_size > lim.max_chunk and total_chunk_count < 2:
        return "The chunk size is invalid"
    final = video_size - (total_chunk_count - 1) * chunk_size
    if final > lim.max_final_chunk:
        return "The chunk size is invalid"
    return None
