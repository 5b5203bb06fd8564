"""Media checks TikTok runs after the bytes arrive (api-facts.md §6), via PyAV and Pillow.

Only container metadata is read, never whole frames, so a 4 GB file checks in milliseconds.
Each check returns a TikTok `fail_reason` or None.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import av
from PIL import Image, UnidentifiedImageError

VIDEO_CODECS = {"h264", "hevc", "vp8", "vp9"}
WEBM_CODECS = {"vp8", "vp9"}
MIN_SIDE, MAX_SIDE = 360, 4096
MIN_FPS, MAX_FPS = 23.0, 60.0
MAX_VIDEO_BYTES = 4 << 30
MAX_PHOTO_BYTES = 20 * 1024 * 1024
MAX_PHOTO_SHORT_SIDE = 1080


@dataclass
class VideoInfo:
    container: str
    codec: str
    width: int
    height: int
    fps: float
    duration: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _matroska_doctype(path: str) -> str | None:
    """The EBML DocType ("webm" or "matroska"): ffmpeg reports both as one format."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    at = head.find(b"\x42\x82")
    if at < 0 or at + 3 > len(head):
        return None
    size = head[at + 2] & 0x7F  # one-byte EBML size (0x80 | n)
    return head[at + 3 : at + 3 + size].decode("ascii", "replace")


def probe_video(path: str) -> VideoInfo | None:
    try:
        with av.open(path) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            if container.duration is not None:
                duration = container.duration / 1_000_000
            elif stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = stream.frames / fps if fps else 0.0
            fmt = container.format.name
            if "matroska" in fmt:
                fmt = _matroska_doctype(path) or "matroska"
            elif "mp4" in fmt or "mov" in fmt:
                fmt = "mp4/mov"
            return VideoInfo(
                fmt,
                codec,
                stream.codec_context.width,
                stream.codec_context.height,
                fps,
                duration,
            )
    except (av.FFmpegError, OSError, ValueError, IndexError):
        return None


def check_video(
    path: str, *, max_duration: float, min_duration: float
) -> tuple[str | None, dict[str, Any]]:
    size = os.path.getsize(path)
    if size > MAX_VIDEO_BYTES:
        return "file_format_check_failed", {"size": size}
    info = probe_video(path)
    if info is None:
        return "file_format_check_failed", {}
    meta = info.to_dict()
    if info.container not in ("mp4/mov", "webm") or info.codec not in VIDEO_CODECS:
        return "file_format_check_failed", meta
    if info.container == "webm" and info.codec not in WEBM_CODECS:
        return "file_format_check_failed", meta
    if info.duration > max_duration or info.duration < min_duration:
        return "duration_check_failed", meta
    sides_ok = all(MIN_SIDE <= side <= MAX_SIDE for side in (info.width, info.height))
    if not sides_ok:
        return "picture_size_check_failed", meta
    if not MIN_FPS <= info.fps <= MAX_FPS:
        return "frame_rate_check_failed", meta
    return None, meta


def check_photo(path: str) -> str | None:
    try:
        with Image.open(path) as image:
            fmt = image.format
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return "file_format_check_failed"
    if fmt not in ("JPEG", "WEBP"):
        return "file_format_check_failed"
    if os.path.getsize(path) > MAX_PHOTO_BYTES or min(width, height) > MAX_PHOTO_SHORT_SIDE:
        return "picture_size_check_failed"
    return None
