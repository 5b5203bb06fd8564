"""What an uploaded file is, checked like fetched media: a video TikTok takes, or a photo
ZakiPost can prepare for TikTok. Synchronous (PyAV, Pillow): run it in a thread."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import ExifTags, Image

from zakipost.media import check_video, content_type_for, prepare_photo, probe_video
from zakipost.media._sniff import sniffed_non_media
from zakipost.storage import EXTENSIONS
from zakipost.upload.errors import MediaKindMismatch, NotMedia

Kind = Literal["video", "photo"]

_PHOTO_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# Image formats prepare_photo names when it refuses them (GIF, BMP, TIFF; HEIC, AVIF by brand).
_OTHER_IMAGES = (b"GIF87a", b"GIF89a", b"BM", b"II*\0", b"MM\0*")
_IMAGE_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")
_DOCUMENTS = ((b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"))
_ROTATED = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class MediaFacts:
    """What the checks found: the kind, the real content type, and the picture."""

    kind: Kind
    content_type: str
    width: int
    height: int
    duration_sec: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def declared_kind(content_type: str | None) -> Kind | None:
    """The kind a declared media type announces (``None`` for octet-stream and the like)."""
    if content_type and content_type.startswith("video/"):
        return "video"
    if content_type and content_type.startswith("image/"):
        return "photo"
    return None


def sniff_photo_format(head: bytes) -> str | None:
    """``JPEG``, ``PNG`` or ``WEBP`` from a file's first bytes."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _other_image(head: bytes) -> bool:
    return head.startswith(_OTHER_IMAGES) or (head[4:8] == b"ftyp" and head[8:12] in _IMAGE_BRANDS)


def inspect_file(path: Path, scratch_dir: Path, *, expect: Kind | None = None) -> MediaFacts:
    """Check the file at ``path``; raises :class:`NotMedia`, :class:`MediaKindMismatch`,
    or the media checks' ``MediaRejected``/``PhotoRejected`` with TikTok's reason."""
    with open(path, "rb") as file:
        head = file.read(512)
    if not head:
        raise NotMedia("The file is empty; upload the video or photo itself.")
    if sniff_photo_format(head) or _other_image(head):
        facts = _inspect_photo(path, scratch_dir)
    else:
        what = next((label for magic, label in _DOCUMENTS if head.startswith(magic)), None)
        what = what or sniffed_non_media(head)
        if what:
            raise NotMedia(
                f"The file is {what}, not a video or a photo. Upload the media file itself: "
                "an MP4, MOV or WebM video, or a JPEG, PNG or WebP photo.",
                details={"found": what},
            )
        info = probe_video(path)
        check_video(info)
        facts = MediaFacts(
            "video", content_type_for(info), info.width, info.height, info.duration_sec
        )
    if expect is not None and facts.kind != expect:
        raise MediaKindMismatch(
            f"The file was announced as a {expect} but it is a {facts.kind} "
            f"({facts.content_type}); send it with its own media type.",
            details={"declared": expect, "found": facts.kind},
        )
    return facts


def _inspect_photo(path: Path, scratch_dir: Path) -> MediaFacts:
    # prepare_photo is the check: what it refuses the pipeline would refuse too. What it
    # would change is reported; the original is kept and prepared again when posted.
    scratch_dir.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(dir=scratch_dir, prefix="photo-check-"))
    try:
        prepared = prepare_photo(path, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    # prepare_photo has already refused what is too large to decode; only the size is read.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(ExifTags.Base.Orientation, 1) in _ROTATED:
                width, height = height, width
    changes = "; ".join(prepared.changes)
    notes = [f"Prepared for TikTok when posted: {changes}."] if changes else []
    return MediaFacts("photo", _PHOTO_TYPES[prepared.source_format], width, height, None, notes)
