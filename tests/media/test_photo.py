"""Preparing photos for TikTok: formats, size, orientation, metadata, bombs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from tests.media.factories import make_image, png_header_only
from zakipost.media import PhotoRejected, prepare_photo

X = "\N{MULTIPLICATION SIGN}"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def _pixel(path: Path, xy: tuple[int, int]) -> tuple[int, ...]:
    with Image.open(path) as image:
        return tuple(image.convert("RGB").getpixel(xy))  # type: ignore[arg-type]


def _close(color: tuple[int, ...], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 30 for a, b in zip(color, expected, strict=True))


def test_png_becomes_jpeg(tmp_path: Path, out: Path) -> None:
    src = make_image(tmp_path / "in.png", width=800, height=600, fmt="PNG")
    photo = prepare_photo(src, out)
    assert photo.changes == ["converted PNG to JPEG"]
    assert (photo.content_type, photo.path.suffix, photo.source_format) == (
        "image/jpeg",
        ".jpg",
        "PNG",
    )
    assert (photo.width, photo.height) == (800, 600)
    with Image.open(photo.path) as image:
        assert image.format == "JPEG"
        assert image.size == (800, 600)
    assert photo.size == photo.path.stat().st_size
    assert photo.sha256 == hashlib.sha256(photo.path.read_bytes()).hexdigest()
    assert list(out.iterdir()) == [photo.path]


def test_transparent_png_is_flattened_on_white(tmp_path: Path, out: Path) -> None:
    src = make_image(tmp_path / "in.png", width=400, height=400, fmt="PNG", alpha=True)
    photo = prepare_photo(src, out)
    assert photo.changes == ["converted PNG to JPEG (transparent areas filled with white)"]
    assert _close(_pixel(photo.path, (300, 200)), (255, 255, 255))
    assert _close(_pixel(photo.path, (100, 200)), (220, 20, 20))


def test_large_jpeg_is_resized_to_1080_on_the_short_side(tmp_path: Path, out: Path) -> None:
    src = make_image(tmp_path / "in.jpg", width=4000, height=3000)
    photo = prepare_photo(src, out)
    assert (photo.width, photo.height) == (1440, 1080)
    assert photo.changes == [f"resized 4000{X}3000 to 1440{X}1080"]
    with Image.open(photo.path) as image:
        assert image.size == (1440, 1080)


def test_large_png_portrait(tmp_path: Path, out: Path) -> None:
    src = make_image(tmp_path / "in.png", width=1500, height=2000, fmt="PNG")
    photo = prepare_photo(src, out)
    assert (photo.width, photo.height) == (1080, 1440)
    assert photo.changes == ["converted PNG to JPEG", f"resized 1500{X}2000 to 1080{X}1440"]


def test_webp_stays_webp(tmp_path: Path, out: Path) -> None:
    src = make_image(tmp_path / "in.webp", width=1000, height=750, fmt="WEBP")
    photo = prepare_photo(src, out)
    assert photo.changes == []
    assert (photo.content_type, photo.path.suffix, photo.width, photo.height) == (
        "image/webp",
        ".webp",
        1000,
        750,
    )
    with Image.open(photo.path) as image:
        assert image.format == "WEBP"


def test_large_transparent_webp_keeps_transparency(tmp_path: Path, out: Path) -> None:
    src = make_image(tmp_path / "in.webp", width=1600, height=1200, fmt="WEBP", alpha=True)
    photo = prepare_photo(src, out)
    assert photo.changes == [f"resized 1600{X}1200 to 1440{X}1080"]
    with Image.open(photo.path) as image:
        assert image.mode == "RGBA"
        assert image.getpixel((1300, 500))[3] == 0  # type: ignore[index]


def test_exif_orientation_is_applied_and_metadata_removed(tmp_path: Path, out: Path) -> None:
    # Stored 400x200, red left and blue right; orientation 6 shows it turned clockwise.
    src = make_image(
        tmp_path / "in.jpg",
        width=400,
        height=200,
        orientation=6,
        exif_tags={0x010F: "PhoneMaker", 0x0131: "Camera app"},
    )
    photo = prepare_photo(src, out)
    assert (photo.width, photo.height) == (200, 400)
    assert _close(_pixel(photo.path, (100, 50)), (220, 20, 20))
    assert _close(_pixel(photo.path, (100, 350)), (20, 20, 220))
    assert photo.changes == ["rotated to its EXIF orientation", "removed metadata (EXIF/XMP)"]
    with Image.open(photo.path) as image:
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info


def test_rotated_large_jpeg_names_the_shown_size(tmp_path: Path, out: Path) -> None:
    src = make_image(tmp_path / "in.jpg", width=4000, height=3000, orientation=8)
    photo = prepare_photo(src, out)
    assert (photo.width, photo.height) == (1080, 1440)
    assert f"resized 3000{X}4000 to 1080{X}1440" in photo.changes


def test_metadata_is_removed_from_webp(tmp_path: Path, out: Path) -> None:
    src = make_image(
        tmp_path / "in.webp", width=500, height=500, fmt="WEBP", exif_tags={0x010F: "X"}
    )
    photo = prepare_photo(src, out)
    assert photo.changes == ["removed metadata (EXIF/XMP)"]
    with Image.open(photo.path) as image:
        assert dict(image.getexif()) == {}


@pytest.mark.parametrize(
    ("fmt", "label"), [("GIF", "a GIF file"), ("BMP", "a BMP file"), ("TIFF", "a TIFF file")]
)
def test_other_formats_are_refused(tmp_path: Path, out: Path, fmt: str, label: str) -> None:
    src = make_image(tmp_path / "in.img", width=400, height=400, fmt=fmt)
    with pytest.raises(PhotoRejected) as caught:
        prepare_photo(src, out)
    assert caught.value.fail_reason == "file_format_check_failed"
    assert caught.value.code == "photo_rejected"
    assert caught.value.message.startswith(f"The image is {label}; TikTok takes JPEG and WebP")
    assert list(out.iterdir()) == []


def test_heic_is_named(tmp_path: Path, out: Path) -> None:
    src = tmp_path / "IMG_0001.HEIC"
    src.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(100))
    with pytest.raises(PhotoRejected, match="a HEIC file"):
        prepare_photo(src, out)


def test_truncated_jpeg_is_refused(tmp_path: Path, out: Path) -> None:
    whole = make_image(tmp_path / "whole.jpg", width=800, height=800, noise=True).read_bytes()
    src = tmp_path / "cut.jpg"
    src.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(PhotoRejected) as caught:
        prepare_photo(src, out)
    assert caught.value.fail_reason == "file_format_check_failed"
    assert "damaged or incomplete" in caught.value.message
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(("width", "height"), [(30_000, 30_000), (7_000, 7_000)])
def test_decompression_bombs_are_refused_before_decoding(
    tmp_path: Path, out: Path, width: int, height: int
) -> None:
    src = tmp_path / "bomb.png"
    src.write_bytes(png_header_only(width, height))
    with pytest.raises(PhotoRejected) as caught:
        prepare_photo(src, out)
    assert caught.value.fail_reason == "picture_size_check_failed"
    assert list(out.iterdir()) == []


def test_quality_is_lowered_to_fit_the_byte_limit(tmp_path: Path, out: Path) -> None:
    src = make_image(tmp_path / "in.jpg", width=1000, height=1000, noise=True)
    first = prepare_photo(src, tmp_path)
    photo = prepare_photo(src, out, max_bytes=first.size * 3 // 4)
    assert photo.size <= first.size * 3 // 4
    assert photo.changes[-1].startswith("re-encoded at quality ")


def test_impossible_byte_limit_is_refused_and_leaves_nothing(tmp_path: Path, out: Path) -> None:
    src = make_image(tmp_path / "in.jpg", width=1000, height=1000, noise=True)
    with pytest.raises(PhotoRejected) as caught:
        prepare_photo(src, out, max_bytes=5_000)
    assert caught.value.fail_reason == "picture_size_check_failed"
    assert list(out.iterdir()) == []
