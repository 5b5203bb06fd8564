"""Test media made on the fly with PyAV and Pillow (reusable by any test suite).

Everything is cached per process: each variant is encoded once.

    make_video()                        # 360x640, 24 fps, 3 s, H.264 in MP4 (~80 KB)
    make_video(fps=15)                  # frame_rate_check_failed
    make_video(width=320)               # picture_size_check_failed
    make_video(seconds=2)               # duration_check_failed (strict 3 s minimum)
    make_video(codec="libvpx-vp9", container="webm")
    pad_mp4(make_video(), 11 << 20)     # a valid MP4 of exactly that many bytes
    make_photo(), make_photo(fmt="PNG"), make_photo(1200, 1200), pad_jpeg(make_photo(), n)
"""

from __future__ import annotations

import functools
import io
import struct
from typing import cast

import av
from PIL import Image

CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}


@functools.lru_cache(maxsize=64)
def make_video(
    width: int = 360,
    height: int = 640,
    fps: int = 24,
    seconds: float = 3.0,
    codec: str = "libx264",
    container: str = "mp4",
) -> bytes:
    """Encode a small synthetic video (a slowly changing flat picture)."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        stream = cast("av.VideoStream", muxer.add_stream(codec, rate=fps))
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        elif codec in ("libvpx", "libvpx-vp9"):
            stream.options = {"deadline": "realtime", "cpu-used": "8"}
        elif codec == "libx265":
            stream.options = {"preset": "ultrafast", "x265-params": "log-level=none"}
        for i in range(round(fps * seconds)):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(16 + i * 3) % 235]) * plane.buffer_size)
            frame.pts = i
            for packet in stream.encode(frame):
                muxer.mux(packet)
        for packet in stream.encode():
            muxer.mux(packet)
    return out.getvalue()


def pad_mp4(data: bytes, size: int) -> bytes:
    """Append a top-level `free` box so the MP4 is exactly `size` bytes and still valid."""
    missing = size - len(data)
    if missing == 0:
        return data
    if missing < 8:
        raise ValueError("need at least 8 bytes of padding for a free box")
    return data + struct.pack(">I", missing) + b"free" + bytes(missing - 8)


@functools.lru_cache(maxsize=32)
def make_photo(width: int = 1080, height: int = 1920, fmt: str = "JPEG") -> bytes:
    image = Image.new("RGB", (width, height), (40, 120, 200))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def pad_jpeg(data: bytes, size: int) -> bytes:
    """Bytes after a JPEG's end marker are ignored by decoders: grow the file, keep it valid."""
    return data + bytes(max(0, size - len(data)))
