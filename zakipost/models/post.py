from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import RecordModel
from zakipost.db.types import StrEnumType, UTCDateTime
from zakipost.publishing.states import PostStatus, PostStep


class MediaKind(enum.StrEnum):
    video = "video"
    photo = "photo"


class PostMode(enum.StrEnum):
    direct = "direct"  # posted to the profile (Direct Post)
    draft = "draft"  # sent to the creator's TikTok inbox to finish in the app


class Transfer(enum.StrEnum):
    file_upload = "FILE_UPLOAD"
    pull_from_url = "PULL_FROM_URL"


class Post(RecordModel):
    """A publish request and everything the pipeline learnt while carrying it out.

    ``status`` and ``step`` are written only by ``zakipost.publishing.machine``.
    """

    __tablename__ = "posts"

    publish_id: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("connections.id", ondelete="CASCADE"), index=True, nullable=False
    )
    kind: Mapped[MediaKind] = mapped_column(StrEnumType(MediaKind), nullable=False)
    post_mode: Mapped[PostMode] = mapped_column(StrEnumType(PostMode), nullable=False)
    status: Mapped[PostStatus] = mapped_column(StrEnumType(PostStatus), index=True, nullable=False)
    step: Mapped[PostStep | None] = mapped_column(StrEnumType(PostStep), nullable=True)

    # What the caller asked for.
    video_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    privacy_level: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # None means "not specified": the pipeline applies what the creator allows.
    disable_comment: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    disable_duet: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    disable_stitch: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    brand_content_toggle: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    brand_organic_toggle: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_aigc: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    video_cover_timestamp_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cost_points: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    # What the pipeline learnt.
    transfer: Mapped[Transfer | None] = mapped_column(StrEnumType(Transfer), nullable=True)
    media_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    media_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    media_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    tiktok_publish_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    upload_url_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    upload_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    chunk_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    uploaded_bytes: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    tiktok_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tiktok_fail_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tiktok_post_ids: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    status_checks: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_retryable: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
