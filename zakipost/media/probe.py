"""Read a video's container, codec, picture size, frame rate and duration, and apply TikTok's rules.

:func:`probe_video` reads stream metadata with PyAV; it decodes nothing itself (FFmpeg
looks at the first packets while opening) and only walks packets, without decoding and in
constant memory, when neither the stream nor the container states a duration.
:func:`check_video` refuses, with TikTok's own ``fail_reason``, what TikTok would refuse.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from zakipost.media.errors import MediaRejected

MIN_SIDE, MAX_SIDE = 360, 4096
MIN_FPS, MAX_FPS = 23.0, 60.0
MIN_DURATION_SEC = 3.0
MAX_DURATION_SEC = 600.0
MAX_SIZE_BYTES = 4 * 1000**3

FILE_FORMAT = "file_format_check_failed"
DURATION = "duration_check_failed"
FRAME_RATE = "frame_rate_check_failed"
PICTURE_SIZE = "picture_size_check_failed"

# Frame rates computed from millisecond timestamps drift a little around the bounds.
_FPS_TOLERANCE = 0.05
_CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}
_CODECS = {"h264": "H.264", "hevc": "H.265", "vp8": "VP8", "vp9": "VP9"}
_CONTAINER_LABELS = {"matroska": "Matroska (MKV)", "avi": "AVI", "flv": "Flash video (FLV)"}


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found.

    ``container`` is ``mp4``, ``mov``, ``webm``, ``matroska`` or FFmpeg's format name;
    ``video_codec`` is FFmpeg's codec name (``h264``, ``hevc``, ``vp9``, ``mpeg4``...).
    """

    container: str
    format_name: str
    video_codec: str
    width: int
    height: int
    fps: float | None
    duration_sec: float | None
    has_audio: bool
    audio_codec: str | None
    size: int

    @property
    def duration(self) -> float:
        """``duration_sec``, or 0.0 when unknown (:func:`check_video` refuses that case)."""
        return self.duration_sec or 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, readable again by :meth:`from_dict`."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoInfo:
        """The inverse of :meth:`as_dict`."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


def probe_video(path: Path | str) -> VideoInfo:
    """Describe the video at ``path``; :class:`MediaRejected` if it is not a readable video."""
    size = os.path.getsize(path)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise MediaRejected("The file has no video track.", fail_reason=FILE_FORMAT)
            stream = container.streams.video[0]
            context = stream.codec_context
            audio = container.streams.audio
            return VideoInfo(
                container=_container_kind(container.format.name, path),
                format_name=container.format.name,
                video_codec=context.codec.canonical_name,
                width=context.width,
                height=context.height,
                fps=_frame_rate(stream),
                duration_sec=_duration(container, stream),
                has_audio=bool(audio),
                audio_codec=audio[0].codec_context.codec.canonical_name if audio else None,
                size=size,
            )
    except av.FFmpegError as exc:
        raise MediaRejected(
            f"The file is not a video ZakiPost can read ({exc.strerror or exc}).",
            fail_reason=FILE_FORMAT,
        ) from None


def _container_kind(format_name: str, path: Path | str) -> str:
    # FFmpeg names one demuxer for MP4 and MOV, and one for WebM and Matroska;
    # the file's own header tells them apart.
    if format_name not in ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"):
        return format_name
    with open(path, "rb") as file:
        head = file.read(64)
    if format_name == "matroska,webm":
        return "webm" if _ebml_doctype(head) == "webm" else "matroska"
    if head[4:8] != b"ftyp":
        return "mov"
    return "mov" if head[8:12] == b"qt  " else "mp4"


def _ebml_doctype(head: bytes) -> str | None:
    at = head.find(b"\x42\x82")
    if not head.startswith(b"\x1a\x45\xdf\xa3") or at < 0 or at + 3 > len(head):
        return None
    first = head[at + 2]
    width = 9 - first.bit_length()
    if not 1 <= width <= 8:
        return None
    length = first & ((1 << (8 - width)) - 1)
    for byte in head[at + 3 : at + 2 + width]:
        length = length << 8 | byte
    start = at + 2 + width
    return head[start : start + length].rstrip(b"\0").decode("ascii", "replace")


def _frame_rate(stream: VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return None


def _duration(container: InputContainer, stream: VideoStream) -> float | None:
    # The video track's own duration first: an audio track running longer must not
    # make a too-short video look long enough.
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return _scan_duration(container, stream)


def _scan_duration(container: InputContainer, stream: VideoStream) -> float | None:
    if stream.time_base is None:
        return None
    start = stream.start_time or 0
    end: int | None = None
    for packet in container.demux(stream):
        if packet.pts is not None:
            end = max(end or 0, packet.pts + (packet.duration or 0))
    return None if end is None else float((end - start) * stream.time_base)


def check_video(info: VideoInfo, *, max_duration_sec: float | None = None) -> None:
    """Raise :class:`MediaRejected` if TikTok would refuse this video.

    ``max_duration_sec`` is the creator's ``max_video_post_duration_sec``; the API's own
    600 s limit applies in any case. Every problem is named in the message; ``fail_reason``
    is the first one's, in the order size, format, codec, picture size, frame rate, duration.
    """
    problems = _problems(info, max_duration_sec)
    if problems:
        raise MediaRejected(
            " ".join(message for _, message in problems),
            fail_reason=problems[0][0],
            details={"problems": [{"fail_reason": r, "message": m} for r, m in problems]},
        )


def _problems(info: VideoInfo, max_duration_sec: float | None) -> list[tuple[str | None, str]]:
    problems: list[tuple[str | None, str]] = []
    if info.size > MAX_SIZE_BYTES:
        size = f"{info.size / 1000**3:.1f} GB"
        problems.append((None, f"The video is {size}; TikTok accepts at most 4 GB."))
    if info.container not in _CONTENT_TYPES:
        label = _CONTAINER_LABELS.get(info.container, info.container)
        message = f"The file is a {label} file; TikTok accepts MP4, MOV and WebM."
        problems.append((FILE_FORMAT, message + " Save it as MP4 with H.264."))
    if info.video_codec not in _CODECS:
        message = f"The video is encoded with {info.video_codec};"
        problems.append(
            (FILE_FORMAT, message + " TikTok accepts H.264, H.265, VP8 and VP9; use H.264.")
        )
    if not all(MIN_SIDE <= side <= MAX_SIDE for side in (info.width, info.height)):
        picture = f"{info.width}\N{MULTIPLICATION SIGN}{info.height} px"
        limits = f"each side between {MIN_SIDE} and {MAX_SIDE} px"
        problems.append((PICTURE_SIZE, f"The picture is {picture}; TikTok needs {limits}."))
    if info.fps is None:
        problems.append((FRAME_RATE, "The frame rate could not be read from the file."))
    elif not MIN_FPS - _FPS_TOLERANCE <= info.fps <= MAX_FPS + _FPS_TOLERANCE:
        limits = f"{MIN_FPS:g} to {MAX_FPS:g} fps"
        message = f"The frame rate is {_number(info.fps)} fps; TikTok accepts {limits}."
        problems.append((FRAME_RATE, message))
    duration_problem = _duration_problem(info.duration_sec, max_duration_sec)
    if duration_problem:
        problems.append((DURATION, duration_problem))
    return problems


def _duration_problem(duration: float | None, max_duration_sec: float | None) -> str | None:
    if duration is None:
        return "The duration could not be read from the file."
    if duration < MIN_DURATION_SEC:
        return (
            f"The video is {_number(duration)} s long; "
            f"TikTok needs at least {MIN_DURATION_SEC:g} s."
        )
    if max_duration_sec is not None and max_duration_sec <= MAX_DURATION_SEC:
        if duration > max_duration_sec:
            return (
                f"The video is {_number(duration)} s long; "
                f"this creator may post at most {_number(max_duration_sec)} s."
            )
    elif duration > MAX_DURATION_SEC:
        return (
            f"The video is {_number(duration)} s long; "
            f"TikTok's API accepts at most {MAX_DURATION_SEC:g} s."
        )
    return None


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def content_type_for(info: VideoInfo) -> str:
    """The upload PUT's ``Content-Type``: ``video/mp4``, ``video/quicktime`` or ``video/webm``."""
    return content_type_for_info({"container": info.container})


def content_type_for_info(info: Mapping[str, Any]) -> str:
    """:func:`content_type_for` from a stored :meth:`VideoInfo.as_dict`."""
    container = info.get("container")
    if container not in _CONTENT_TYPES:
        raise MediaRejected(f"TikTok does not take {container} files.", fail_reason=FILE_FORMAT)
    return _CONTENT_TYPES[container]
