"""Media checks (§6): the checker on generated files, then the fail_reasons they surface as."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zakipost.sandbox.media import check_photo, check_video

from .driver import PUBLIC, Driver
from .media import make_photo, make_video, pad_jpeg, pad_mp4

VIDEO_CASES = [
    ({}, None),
    # Square and at 23 fps: the cheapest valid frames for the slow encoders.
    ({"codec": "libx265", "height": 360, "fps": 23}, None),
    ({"codec": "libvpx-vp9", "container": "webm", "height": 360, "fps": 23}, None),
    ({"codec": "libvpx", "container": "webm", "height": 360, "fps": 23}, None),
    ({"container": "mov"}, None),
    ({"fps": 23}, None),
    ({"fps": 60, "height": 360}, None),
    ({"width": 640, "height": 360}, None),
    ({"codec": "mpeg4"}, "file_format_check_failed"),
    ({"container": "matroska"}, "file_format_check_failed"),  # H.264 in MKV is not WebM
    ({"fps": 15}, "frame_rate_check_failed"),
    ({"fps": 61, "height": 360}, "frame_rate_check_failed"),
    ({"width": 320}, "picture_size_check_failed"),
    ({"width": 640, "height": 300}, "picture_size_check_failed"),
    ({"seconds": 2}, "duration_check_failed"),
]


def write(tmp_path: Path, data: bytes, name: str = "m.bin") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


class TestVideoChecker:
    @pytest.mark.parametrize(("variant", "expected"), VIDEO_CASES)
    def test_variants(self, tmp_path: Path, variant: dict[str, Any], expected: str | None) -> None:
        path = write(tmp_path, make_video(**variant))
        reason, meta = check_video(path, max_duration=600, min_duration=3)
        assert reason == expected, meta

    def test_metadata(self, tmp_path: Path) -> None:
        _, meta = check_video(write(tmp_path, make_video()), max_duration=600, min_duration=3)
        assert meta == {
            "container": "mp4/mov",
            "codec": "h264",
            "width": 360,
            "height": 640,
            "fps": 24.0,
            "duration": 3.0,
        }

    def test_creator_maximum(self, tmp_path: Path) -> None:
        path = write(tmp_path, make_video(width=64, height=64, fps=1, seconds=61))
        assert check_video(path, max_duration=60, min_duration=3)[0] == "duration_check_failed"

    def test_minimum_is_configurable(self, tmp_path: Path) -> None:
        path = write(tmp_path, make_video(seconds=2))
        assert check_video(path, max_duration=600, min_duration=0)[0] is None

    @pytest.mark.parametrize("data", [b"", b"not a video at all" * 100, make_photo()])
    def test_not_a_video(self, tmp_path: Path, data: bytes) -> None:
        assert (
            check_video(write(tmp_path, data), max_duration=600, min_duration=3)[0]
            == "file_format_check_failed"
        )

    def test_padded_mp4_stays_valid(self, tmp_path: Path) -> None:
        path = write(tmp_path, pad_mp4(make_video(), 6 << 20))
        assert check_video(path, max_duration=600, min_duration=3)[0] is None


class TestPhotoChecker:
    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            (make_photo(), None),
            (make_photo(fmt="WEBP"), None),
            (make_photo(1920, 1080), None),
            (make_photo(1080, 1080), None),
            (make_photo(100, 100, "PNG"), "file_format_check_failed"),
            (make_photo(100, 100, "GIF"), "file_format_check_failed"),
            (make_photo(1254, 1254), "picture_size_check_failed"),
            (make_photo(1081, 1920), "picture_size_check_failed"),
            (pad_jpeg(make_photo(), 20 * 1024 * 1024 + 1), "picture_size_check_failed"),
            (b"garbage", "file_format_check_failed"),
        ],
    )
    def test_photos(self, tmp_path: Path, data: bytes, expected: str | None) -> None:
        assert check_photo(write(tmp_path, data)) == expected


async def direct_upload_status(
    tt: Driver, data: bytes, creator: str = "sandbox.creator"
) -> dict[str, Any]:
    headers = await tt.auth(creator)
    publish_id = await tt.upload_video(headers, data)
    return await tt.status(headers, publish_id)


class TestSurfacing:
    @pytest.mark.parametrize(
        ("variant", "reason"),
        [
            ({"fps": 15}, "frame_rate_check_failed"),
            ({"width": 320}, "picture_size_check_failed"),
            ({"seconds": 2}, "duration_check_failed"),
            ({"codec": "mpeg4"}, "file_format_check_failed"),
        ],
    )
    async def test_failed_upload(self, tt: Driver, variant: dict[str, Any], reason: str) -> None:
        status = await direct_upload_status(tt, make_video(**variant))
        assert status["status"] == "FAILED"
        assert status["fail_reason"] == reason
        assert status["publicaly_available_post_id"] == []

    async def test_creator_max_duration(self, tt: Driver) -> None:
        long = make_video(width=64, height=64, fps=1, seconds=61)
        assert (await direct_upload_status(tt, long, "short.creator"))[
            "fail_reason"
        ] == "duration_check_failed"

    async def test_checks_can_be_switched_off(self, tt: Driver) -> None:
        await tt.configure(media_checks=False)
        assert (await direct_upload_status(tt, b"\x00" * 2048))["status"] == "PUBLISH_COMPLETE"

    async def test_photo_pull_fails_whole_carousel(self, tt: Driver) -> None:
        tt.helper.media.update({"ok.jpg": make_photo(), "big.jpg": make_photo(1254, 1254)})
        headers = await tt.auth()
        body = {
            "media_type": "PHOTO",
            "post_mode": "DIRECT_POST",
            "post_info": PUBLIC,
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_images": [f"{tt.media_base}ok.jpg", f"{tt.media_base}big.jpg"],
                "photo_cover_index": 0,
            },
        }
        publish_id = (await tt.api("/v2/post/publish/content/init/", headers, body)).json()["data"][
            "publish_id"
        ]
        await tt.settle()
        status = await tt.status(headers, publish_id)
        assert status["status"] == "FAILED"
        assert status["fail_reason"] == "picture_size_check_failed"

    async def test_png_photo(self, tt: Driver) -> None:
        tt.helper.media["p.png"] = make_photo(200, 200, "PNG")
        headers = await tt.auth()
        body = {
            "media_type": "PHOTO",
            "post_mode": "MEDIA_UPLOAD",
            "post_info": {"privacy_level": "SELF_ONLY"},
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_images": [f"{tt.media_base}p.png"],
                "photo_cover_index": 0,
            },
        }
        publish_id = (await tt.api("/v2/post/publish/content/init/", headers, body)).json()["data"][
            "publish_id"
        ]
        await tt.settle()
        assert (await tt.status(headers, publish_id))["fail_reason"] == "file_format_check_failed"
