"""Turn a fetched image into one TikTok takes: JPEG or WebP, short side at most 1080 px, 20 MB.

JPEG, PNG and WebP come in; PNG leaves as JPEG (transparency on white), WebP stays WebP and
JPEG stays JPEG. The EXIF orientation is applied to the pixels, and metadata (EXIF with its
GPS position, XMP, comments) is dropped; the colour profile is kept. Memory stays bounded:
JPEGs are decoded at a reduced scale when that still covers the target size, and images too
large to decode safely are refused before decoding. Synchronous: run it in a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, ImageOps

from zakipost.media.errors import PhotoRejected

MAX_SHORT_SIDE = 1080
MAX_BYTES = 20 * 1000 * 1000
# JPEGs are decoded at up to 1/8 scale; PNG and WebP are decoded whole (4 bytes a pixel).
# Between Pillow's own warning threshold (~89 MP) and this, Pillow warns; that is harmless.
MAX_PIXELS_JPEG = 120_000_000
MAX_PIXELS_OTHER = 40_000_000
QUALITY_STEPS = (90, 80, 70, 60, 50)

FILE_FORMAT = "file_format_check_failed"
PICTURE_SIZE = "picture_size_check_failed"

_OUTPUT = {"JPEG": ("JPEG", ".jpg", "image/jpeg"), "WEBP": ("WEBP", ".webp", "image/webp")}
_ROTATED = frozenset({5, 6, 7, 8})
_TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass(frozen=True)
class PreparedPhoto:
    """The prepared file and what was done to get it (``changes``, for the post's timeline)."""

    path: Path
    width: int
    height: int
    size: int
    content_type: str
    sha256: str
    changes: list[str]
    source_format: str


def prepare_photo(
    src_path: Path | str,
    dest_dir: Path | str,
    *,
    max_short_side: int = MAX_SHORT_SIDE,
    max_bytes: int = MAX_BYTES,
) -> PreparedPhoto:
    """Write a TikTok-ready copy of ``src_path`` into ``dest_dir``.

    Raises :class:`PhotoRejected` (``file_format_check_failed`` for formats other than JPEG,
    PNG and WebP or damaged files; ``picture_size_check_failed`` for images too large to
    process or that cannot be brought under ``max_bytes``).
    """
    src = Path(src_path)
    source_format = _sniff_format(src)
    changes: list[str] = []
    with _decoding_errors(), Image.open(src, formats=[source_format]) as opened:
        image, alpha = _decode(opened, source_format, max_short_side, changes)
    output_format, suffix, content_type = _OUTPUT.get(source_format, _OUTPUT["JPEG"])
    if output_format == "JPEG" and alpha:
        image = _on_white(image)
    if source_format != output_format:
        note = " (transparent areas filled with white)" if alpha else ""
        changes.insert(0, f"converted {source_format} to {output_format}{note}")
    dest = Path(dest_dir) / f"photo-{secrets.token_hex(12)}{suffix}"
    try:
        size = _encode(image, dest, output_format, max_bytes, changes)
        digest = _sha256(dest)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return PreparedPhoto(
        path=dest,
        width=image.width,
        height=image.height,
        size=size,
        content_type=content_type,
        sha256=digest,
        changes=changes,
        source_format=source_format,
    )


def _sniff_format(src: Path) -> str:
    with open(src, "rb") as file:
        head = file.read(32)
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    label = _refused_label(head)
    raise PhotoRejected(
        f"The image is {label}; TikTok takes JPEG and WebP photos (ZakiPost also converts "
        "PNG). Save it as JPEG.",
        fail_reason=FILE_FORMAT,
    )


def _refused_label(head: bytes) -> str:
    brand = head[8:12] if head[4:8] == b"ftyp" else b""
    opening = head.lstrip().lower()
    for label, matches in (
        ("a GIF file", head.startswith((b"GIF87a", b"GIF89a"))),
        ("a BMP file", head.startswith(b"BM")),
        ("a TIFF file", head.startswith((b"II*\0", b"MM\0*"))),
        ("a HEIC file", brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1")),
        ("an AVIF file", brand in (b"avif", b"avis")),
        ("a PDF document", head.startswith(b"%PDF")),
        ("an SVG or XML document", opening.startswith((b"<svg", b"<?xml"))),
        ("a web page", opening.startswith((b"<!doctype", b"<html"))),
    ):
        if matches:
            return label
    return "not in an image format ZakiPost can read"


@contextlib.contextmanager
def _decoding_errors() -> Iterator[None]:
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected(
            "The image has too many pixels to process safely; TikTok shows photos at most "
            "1080 px on the short side, so send a smaller image.",
            fail_reason=PICTURE_SIZE,
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # Pillow reports unreadable and truncated data in all of these.
        raise PhotoRejected(
            f"The image file is damaged or incomplete ({exc}).", fail_reason=FILE_FORMAT
        ) from None


def _decode(
    image: Image.Image, source_format: str, max_short_side: int, changes: list[str]
) -> tuple[Image.Image, bool]:
    width, height = image.size
    limit = MAX_PIXELS_JPEG if source_format == "JPEG" else MAX_PIXELS_OTHER
    if width * height > limit:
        raise PhotoRejected(
            f"The image is {width}{_TIMES}{height} px ({width * height / 1e6:.0f} megapixels); "
            f"ZakiPost processes at most {limit / 1e6:.0f} megapixels for a "
            f"{source_format} image. Send a smaller image.",
            fail_reason=PICTURE_SIZE,
        )
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    shown = (height, width) if orientation in _ROTATED else (width, height)
    target = _target_size(shown, max_short_side)
    had_metadata = any(key in image.info for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment"))
    if getattr(image, "n_frames", 1) > 1 and source_format != "JPEG":
        changes.append(f"kept the first frame of the animated {source_format}")
    if source_format == "JPEG" and target != shown:
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale directly, never holding full size.
        stored = target if orientation not in _ROTATED else (target[1], target[0])
        image.draft("RGB", stored)
    image.load()
    alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    # A CMYK profile would mislabel the RGB output; plain conversion is the lesser evil.
    icc_profile = image.info.get("icc_profile") if image.mode != "CMYK" else None
    upright = ImageOps.exif_transpose(image)
    if orientation != 1:
        changes.append("rotated to its EXIF orientation")
    upright = upright.convert("RGBA" if alpha else "RGB")
    # Pillow writes some metadata (JPEG comments) from ``info``; keep only the colour profile.
    upright.info = {"icc_profile": icc_profile} if icc_profile else {}
    if upright.size != target:
        upright = upright.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if target != shown:
        changes.append(f"resized {shown[0]}{_TIMES}{shown[1]} to {target[0]}{_TIMES}{target[1]}")
    if had_metadata:
        changes.append("removed metadata (EXIF/XMP)")
    return upright, alpha


def _target_size(size: tuple[int, int], max_short_side: int) -> tuple[int, int]:
    width, height = size
    short = min(width, height)
    if short <= max_short_side:
        return size
    scale = max_short_side / short
    scaled = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Rounding must not push the short side back over the limit.
    return (
        min(scaled[0], max_short_side) if width == short else scaled[0],
        min(scaled[1], max_short_side) if height == short else scaled[1],
    )


def _on_white(image: Image.Image) -> Image.Image:
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    background.info = dict(image.info)
    return background


def _encode(
    image: Image.Image, dest: Path, output_format: str, max_bytes: int, changes: list[str]
) -> int:
    icc_profile = image.info.get("icc_profile")
    for quality in QUALITY_STEPS:
        params: dict[str, object] = {"quality": quality}
        if icc_profile:
            params["icc_profile"] = icc_profile
        if output_format == "JPEG":
            params["optimize"] = True
        image.save(dest, output_format, **params)
        size = dest.stat().st_size
        if size <= max_bytes:
            if quality != QUALITY_STEPS[0]:
                changes.append(f"re-encoded at quality {quality} to stay under {max_bytes:,} bytes")
            return size
    raise PhotoRejected(
        f"The image is still larger than {max_bytes:,} bytes at quality {QUALITY_STEPS[-1]}; "
        "send a smaller or simpler image.",
        fail_reason=PICTURE_SIZE,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
