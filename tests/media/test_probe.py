"""Probing generated videos with PyAV and applying TikTok's media rules."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from tests.media.factories import make_image, make_video, pad_file
from zakipost.media import (
    MediaRejected,
    VideoInfo,
    check_video,
    content_type_for,
    content_type_for_info,
    probe_video,
)

X = "\N{MULTIPLICATION SIGN}"


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each video is encoded once for the module (a few hundred ms each)."""
    folder = tmp_path_factory.mktemp("videos")
    specs: dict[str, dict[str, object]] = {
        "good.mp4": {"audio": True},
        "good.mov": {"container": "mov"},
        "good.webm": {"container": "webm", "codec": "libvpx-vp9", "audio": True},
        "hevc.mp4": {"codec": "libx265", "seconds": 3.1, "height": 360, "fps": 23},
        "short.mp4": {"seconds": 2},
        "four.mp4": {"seconds": 4},
        "small.mp4": {"width": 320, "height": 240},
        "slow.mp4": {"fps": 15},
        "ntsc.mp4": {"fps": 30000 / 1001},
        "mpeg4.mp4": {"codec": "mpeg4"},
        "h264.mkv": {"container": "mkv"},
        "small_slow.mp4": {"width": 320, "height": 240, "fps": 15},
    }
    return {name: make_video(folder / name, **spec) for name, spec in specs.items()}  # type: ignore[arg-type]


def test_good_mp4(videos: dict[str, Path]) -> None:
    info = probe_video(videos["good.mp4"])
    assert (info.container, info.video_codec, info.width, info.height) == ("mp4", "h264", 360, 640)
    assert info.fps == 24
    assert info.duration_sec == pytest.approx(3.5, abs=0.05)
    assert info.has_audio
    assert info.audio_codec == "aac"
    assert info.size == videos["good.mp4"].stat().st_size
    check_video(info, max_duration_sec=600)
    assert content_type_for(info) == "video/mp4"


@pytest.mark.parametrize(
    ("name", "container", "codec", "content_type"),
    [
        ("good.mov", "mov", "h264", "video/quicktime"),
        ("good.webm", "webm", "vp9", "video/webm"),
        ("hevc.mp4", "mp4", "hevc", "video/mp4"),
        ("ntsc.mp4", "mp4", "h264", "video/mp4"),
    ],
)
def test_other_accepted_videos(
    videos: dict[str, Path], name: str, container: str, codec: str, content_type: str
) -> None:
    info = probe_video(videos[name])
    assert (info.container, info.video_codec) == (container, codec)
    assert info.duration_sec is not None
    assert info.duration_sec >= 3
    check_video(info, max_duration_sec=180)
    assert content_type_for(info) == content_type


@pytest.mark.parametrize(
    ("name", "max_duration", "fail_reason", "message"),
    [
        (
            "short.mp4",
            600,
            "duration_check_failed",
            "The video is 2 s long; TikTok needs at least 3 s.",
        ),
        (
            "four.mp4",
            3,
            "duration_check_failed",
            "The video is 4 s long; this creator may post at most 3 s.",
        ),
        (
            "small.mp4",
            600,
            "picture_size_check_failed",
            f"The picture is 320{X}240 px; TikTok needs each side between 360 and 4096 px.",
        ),
        (
            "slow.mp4",
            600,
            "frame_rate_check_failed",
            "The frame rate is 15 fps; TikTok accepts 23 to 60 fps.",
        ),
        (
            "mpeg4.mp4",
            600,
            "file_format_check_failed",
            "The video is encoded with mpeg4; TikTok accepts H.264, H.265, VP8 and VP9; use H.264.",
        ),
        (
            "h264.mkv",
            600,
            "file_format_check_failed",
            (
                "The file is a Matroska (MKV) file; TikTok accepts MP4, MOV and WebM. "
                "Save it as MP4 with H.264."
            ),
        ),
    ],
)
def test_refused_videos(
    videos: dict[str, Path], name: str, max_duration: int, fail_reason: str, message: str
) -> None:
    info = probe_video(videos[name])
    with pytest.raises(MediaRejected) as caught:
        check_video(info, max_duration_sec=max_duration)
    assert caught.value.fail_reason == fail_reason
    assert caught.value.message == message
    assert caught.value.code == "video_rejected"
    assert caught.value.details["fail_reason"] == fail_reason


def test_every_problem_is_named_and_the_first_gives_the_reason(videos: dict[str, Path]) -> None:
    with pytest.raises(MediaRejected) as caught:
        check_video(probe_video(videos["small_slow.mp4"]))
    assert caught.value.fail_reason == "picture_size_check_failed"
    assert f"320{X}240" in caught.value.message
    assert "15 fps" in caught.value.message
    reasons = [p["fail_reason"] for p in caught.value.details["problems"]]
    assert reasons == ["picture_size_check_failed", "frame_rate_check_failed"]


def _info(**changes: object) -> VideoInfo:
    base = VideoInfo(
        container="mp4",
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        video_codec="h264",
        width=1080,
        height=1920,
        fps=30.0,
        duration_sec=30.0,
        has_audio=True,
        audio_codec="aac",
        size=10_000_000,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("duration", "creator_max", "message"),
    [
        (700, 600, "The video is 700 s long; this creator may post at most 600 s."),
        (700, None, "The video is 700 s long; TikTok's API accepts at most 600 s."),
        (700, 900, "The video is 700 s long; TikTok's API accepts at most 600 s."),
        (200, 180, "The video is 200 s long; this creator may post at most 180 s."),
        (2.96, 600, "The video is 2.96 s long; TikTok needs at least 3 s."),
        (None, 600, "The duration could not be read from the file."),
    ],
)
def test_duration_limits(duration: float | None, creator_max: int | None, message: str) -> None:
    with pytest.raises(MediaRejected) as caught:
        check_video(_info(duration_sec=duration), max_duration_sec=creator_max)
    assert caught.value.fail_reason == "duration_check_failed"
    assert caught.value.message == message


@pytest.mark.parametrize(
    "changes",
    [
        {"duration_sec": 3.0},
        {"duration_sec": 600.0},
        {"fps": 23.0},
        {"fps": 23.976},
        {"fps": 60.0},
        {"width": 360, "height": 4096},
        {"container": "webm", "video_codec": "vp8"},
        {"container": "mov", "video_codec": "hevc"},
    ],
)
def test_bounds_are_inclusive(changes: dict[str, object]) -> None:
    check_video(_info(**changes), max_duration_sec=600)


@pytest.mark.parametrize(
    ("changes", "fail_reason"),
    [
        ({"fps": 61.0}, "frame_rate_check_failed"),
        ({"fps": None}, "frame_rate_check_failed"),
        ({"width": 4097}, "picture_size_check_failed"),
        ({"height": 359}, "picture_size_check_failed"),
        ({"video_codec": "av1"}, "file_format_check_failed"),
        ({"container": "avi"}, "file_format_check_failed"),
    ],
)
def test_out_of_bounds(changes: dict[str, object], fail_reason: str) -> None:
    with pytest.raises(MediaRejected) as caught:
        check_video(_info(**changes))
    assert caught.value.fail_reason == fail_reason


def test_over_4_gb_is_refused(videos: dict[str, Path], tmp_path: Path) -> None:
    huge = pad_file(shutil.copy(videos["good.mp4"], tmp_path / "huge.mp4"), 4_100_000_000)
    info = probe_video(huge)
    assert info.size == 4_100_000_000
    with pytest.raises(MediaRejected) as caught:
        check_video(info)
    assert caught.value.fail_reason is None
    assert caught.value.message == "The video is 4.1 GB; TikTok accepts at most 4 GB."


def test_not_a_video(tmp_path: Path) -> None:
    page = tmp_path / "page.mp4"
    page.write_text("<html><body>Sign in to view this file</body></html>")
    with pytest.raises(MediaRejected) as caught:
        probe_video(page)
    assert caught.value.fail_reason == "file_format_check_failed"
    assert "not a video ZakiPost can read" in caught.value.message


def test_a_still_image_is_not_a_tiktok_video(tmp_path: Path) -> None:
    info = probe_video(make_image(tmp_path / "p.jpg", width=400, height=400))
    with pytest.raises(MediaRejected) as caught:
        check_video(info)
    assert caught.value.fail_reason == "file_format_check_failed"


def test_stored_info_round_trips(videos: dict[str, Path]) -> None:
    info = probe_video(videos["good.mov"])
    stored = info.as_dict()
    assert VideoInfo.from_dict(stored) == info
    assert content_type_for_info(stored) == "video/quicktime"
    assert info.duration == info.duration_sec
    with pytest.raises(MediaRejected):
        content_type_for_info({"container": "matroska"})


def test_duration_from_packets_when_no_header_states_it(videos: dict[str, Path]) -> None:
    import av

    from zakipost.media.probe import _scan_duration

    with av.open(str(videos["good.webm"])) as container:
        assert _scan_duration(container, container.streams.video[0]) == pytest.approx(3.5, abs=0.05)
