"""Request and response bodies of the media upload API."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from zakipost.schemas import INT64_MAX, Schema
from zakipost.text import Text
from zakipost.upload.kinds import MediaKind, MediaStatus

if TYPE_CHECKING:
    from zakipost.models import MediaObject

MEDIA_ID_EXAMPLE = "med_Xw3pA9kLq2Rt7Vb1Nc5Dz8Ye"
MEDIA_EXAMPLE: dict[str, Any] = {
    "media_id": MEDIA_ID_EXAMPLE,
    "kind": "video",
    "status": "ready",
    "content_type": "video/mp4",
    "filename": "launch.mp4",
    "size": 48213760,
    "sha256": "9f2c4e0b5d3a7c1e8f6b2d4a0c9e7f5b3d1a8c6e4f2b0d9e7c5a3f1b8d6e4c2a",
    "width": 1080,
    "height": 1920,
    "duration_sec": 27.5,
    "notes": [],
    "error": None,
    "received": 48213760,
    "expires_at": "2026-11-23T10:15:00Z",
    "used_by": None,
    "created_at": "2026-11-22T10:15:00Z",
}


class MediaContentType(enum.StrEnum):
    mp4 = "video/mp4"
    mov = "video/quicktime"
    webm = "video/webm"
    jpeg = "image/jpeg"
    png = "image/png"
    webp = "image/webp"


class MediaProblem(Schema):
    """Why the checks refused the file."""

    code: str = Field(examples=["video_rejected"])
    message: str = Field(examples=["The video is 2 s long; TikTok needs at least 3 s."])
    details: dict[str, Any] | None = Field(
        None, examples=[{"fail_reason": "duration_check_failed"}]
    )


class MediaOut(Schema):
    """Uploaded media. Use ``media_id`` in a post instead of a URL."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [MEDIA_EXAMPLE]},
    )

    media_id: str = Field(
        description="`med_` and 24 letters or digits.", examples=[MEDIA_ID_EXAMPLE]
    )
    kind: MediaKind = Field(description="`video` or `photo`.", examples=["video"])
    status: MediaStatus = Field(
        description="`pending` (announced, not received whole), `ready` (checked and "
        "usable), `failed` (refused; see `error`) or `deleted`.",
        examples=["ready"],
    )
    content_type: str = Field(
        description="What the file really is, as found by the checks (announced type while "
        "pending).",
        examples=["video/mp4"],
    )
    filename: str | None = Field(None, description="The name it was sent with.")
    size: int | None = Field(None, description="Bytes; null while pending.", examples=[48213760])
    sha256: str | None = Field(None, description="SHA-256 of the file, hex.")
    width: int | None = Field(None, description="Pixels, as displayed.", examples=[1080])
    height: int | None = Field(None, description="Pixels, as displayed.", examples=[1920])
    duration_sec: float | None = Field(None, description="Videos only.", examples=[27.5])
    notes: list[str] = Field(
        default_factory=list,
        description="What ZakiPost will change when posting it (photos: format, size).",
        examples=[["Prepared for TikTok when posted: converted PNG to JPEG."]],
    )
    error: MediaProblem | None = Field(None, description="Why a `failed` upload was refused.")
    received: int = Field(
        description="Bytes received so far (resumable uploads resume from here).",
        examples=[48213760],
    )
    expires_at: dt.datetime | None = Field(
        description="When it is deleted if no post uses it; null once a post uses it.",
        examples=["2026-11-23T10:15:00Z"],
    )
    used_by: str | None = Field(
        None, description="The publish_id of the post that uses it.", examples=[None]
    )
    created_at: dt.datetime

    @classmethod
    def of(cls, row: MediaObject) -> MediaOut:
        return cls(
            media_id=row.media_id,
            kind=row.kind,
            status=row.status,
            content_type=row.content_type,
            filename=row.filename,
            size=row.size,
            sha256=row.sha256,
            width=row.width,
            height=row.height,
            duration_sec=row.duration_sec,
            notes=list(row.notes or []),
            error=MediaProblem.model_validate(row.error) if row.error else None,
            received=row.received,
            expires_at=None if row.used_at is not None else row.expires_at,
            used_by=row.used_by,
            created_at=row.created_at,
        )


class AnnouncedUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_type: MediaContentType = Field(
        description="The file's media type; a presigned upload must be sent with exactly "
        "this Content-Type.",
        examples=["video/mp4"],
    )
    filename: Annotated[Text, Field(max_length=255)] | None = Field(None, examples=["launch.mp4"])


class PresignRequest(AnnouncedUpload):
    """The body of ``POST /v1/media/presign``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"content_type": "video/mp4", "size": 48213760, "filename": "a.mp4"}]
        },
    )

    size: Annotated[StrictInt, Field(gt=0, le=INT64_MAX)] | None = Field(
        None,
        description="The file's size in bytes, if known (checked against the cap).",
        examples=[48213760],
    )


class ResumableCreate(AnnouncedUpload):
    """The body of ``POST /v1/media/uploads``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"content_type": "video/mp4", "size": 314572800, "filename": "b.mp4"}]
        },
    )

    size: Annotated[StrictInt, Field(gt=0, le=INT64_MAX)] = Field(
        description="The whole file's size in bytes.", examples=[314572800]
    )


class PresignedOut(Schema):
    """Where to send the file, then ``POST /v1/media/{media_id}/complete``."""

    media_id: str = Field(examples=[MEDIA_ID_EXAMPLE])
    upload_url: str = Field(
        description="Send the file here, with `method` and `headers`.",
        examples=["https://bucket.s3.eu-west-1.amazonaws.com/Xy...mp4?X-Amz-Signature=..."],
    )
    method: str = Field(examples=["PUT"])
    headers: dict[str, str] = Field(examples=[{"Content-Type": "video/mp4"}])
    upload_expires_at: dt.datetime = Field(description="The upload URL stops working then.")
    complete_url: str = Field(examples=[f"/v1/media/{MEDIA_ID_EXAMPLE}/complete"])
    media: MediaOut
