"""Small, fast media for tests: real videos (PyAV), real images (Pillow), cheap big files.

Other test packages import these; keep the signatures stable.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

_CONTAINER_FORMATS = {"mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "matroska"}
_ENCODER_OPTIONS = {
    "libx264": {"preset": "ultrafast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=none:pools=none:frame-threads=1"},
    "libvpx": {"deadline": "realtime", "cpu-used": "8"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
}

# The start of a real MP4 (an ``ftyp`` box): enough for the fetcher's sniffing.
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2mp41"


def make_video(
    path: Path | str,
    *,
    width: int = 360,
    height: int = 640,
    fps: float = 24,
    seconds: float = 3.5,
    codec: str = "libx264",
    container: str = "mp4",
    audio: bool = False,
) -> Path:
    """Encode a small video (flat frames whose brightness changes, so encoding is fast).

    ``container`` is ``mp4``, ``mov``, ``webm`` or ``mkv``; ``codec`` an FFmpeg encoder
    (``libx264``, ``libx265``, ``libvpx``, ``libvpx-vp9``, ``mpeg4``). ``audio`` adds a
    silent AAC (MP4/MOV) or Opus (WebM/MKV) track of the same length.
    """
    path = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    frames = round(seconds * rate)
    with av.open(str(path), "w", format=_CONTAINER_FORMATS.get(container, container)) as output:
        video = output.add_stream(codec, rate=rate, options=_ENCODER_OPTIONS.get(codec, {}))
        assert isinstance(video, av.VideoStream)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound: av.AudioStream | None = None
        if audio:
            encoder = "aac" if container in ("mp4", "mov") else "libopus"
            added = output.add_stream(encoder, rate=48000, layout="mono")
            assert isinstance(added, av.AudioStream)
            sound = added
        for index in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(index * 3) % 256]) * plane.buffer_size)
            frame.pts = index
            output.mux(video.encode(frame))
        output.mux(video.encode(None))
        if sound is not None:
            _write_silence(output, sound, seconds)
    return path


def _write_silence(
    output: av.container.OutputContainer, sound: av.AudioStream, seconds: float
) -> None:
    total, pts = round(seconds * 48000), 0
    while pts < total:
        frame = av.AudioFrame(format="fltp", layout="mono", samples=960)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts = 48000, pts
        pts += 960
        output.mux(sound.encode(frame))
    output.mux(sound.encode(None))


def make_image(
    path: Path | str,
    *,
    width: int,
    height: int,
    fmt: str = "JPEG",
    alpha: bool = False,
    noise: bool = False,
    orientation: int | None = None,
    exif_tags: dict[int, object] | None = None,
) -> Path:
    """Write an image: left half red, right half blue (or noise, which compresses badly).

    ``fmt`` is a Pillow format name (``JPEG``, ``PNG``, ``WEBP``, ``GIF``...). ``alpha``
    makes the right half fully transparent. ``orientation`` and ``exif_tags`` go into EXIF.
    """
    path = Path(path)
    if noise:
        image = Image.merge("RGB", [Image.effect_noise((width, height), 80)] * 3)
    else:
        image = Image.new("RGB", (width, height), (220, 20, 20))
        image.paste((20, 20, 220), (width // 2, 0, width, height))
    if alpha:
        image = image.convert("RGBA")
        image.paste((0, 0, 0, 0), (width // 2, 0, width, height))
    params: dict[str, object] = {}
    if orientation is not None or exif_tags:
        exif = Image.Exif()
        for tag, value in (exif_tags or {}).items():
            exif[tag] = value
        if orientation is not None:
            exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
    image.save(path, fmt, **params)
    return path


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` but holds almost no data (a decompression bomb's
    header), built by hand so that no test ever allocates the full picture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def fake_video_body(size: int, *, block: int = 64 * 1024) -> Iterator[bytes]:
    """``size`` bytes that start like an MP4, yielded in blocks: for size caps and streaming
    tests, where the body is never probed. One block object is reused, so producing even
    gigabytes costs no memory."""
    zeros = bytes(block)
    head = MP4_HEAD[:size]
    yield head
    remaining = size - len(head)
    while remaining > 0:
        yield zeros if remaining >= block else zeros[:remaining]
        remaining -= block


def pad_file(path: Path | str, size: int) -> Path:
    """Extend a file to ``size`` bytes with a sparse hole: a many-GB file without writing it.

    A padded MP4 still probes (the boxes are read up to the hole), so it stands for a huge
    video in size-limit tests.
    """
    path = Path(path)
    with open(path, "r+b") as file:
        file.truncate(size)
    return path


def image_bytes(*, width: int, height: int, fmt: str = "JPEG") -> bytes:
    """An encoded image in memory (for HTTP servers in tests)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 40)).save(buffer, fmt)
    return buffer.getvalue()
