from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, Uuid, true
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import RecordModel
from zakipost.db.types import PydanticJSON, StrEnumType, UTCDateTime
from zakipost.publishing.states import PostStatus, PostStep
from zakipost.upload.kinds import MediaKind


class PostMode(enum.StrEnum):
    direct = "direct"  # posted to the profile (Direct Post)
    draft = "draft"  # sent to the creator's TikTok inbox to finish in the app


class Transfer(enum.StrEnum):
    file_upload = "FILE_UPLOAD"
    pull_from_url = "PULL_FROM_URL"


class _Frozen(BaseModel):
    # Frozen, so a change is always a new value assigned to the column (which the ORM sees).
    model_config = ConfigDict(frozen=True, extra="ignore")


class PhotoSource(_Frozen):
    """One image of a carousel as the caller gave it: a URL, or an uploaded media's key."""

    url: str | None = None
    media_key: str | None = None


class PostRequest(_Frozen):
    """What the caller asked for beyond the post's own columns."""

    on_daily_cap: Literal["defer", "fail"] = "defer"
    media_key: str | None = None  # a video uploaded to ZakiPost (instead of video_url)
    photos: tuple[PhotoSource, ...] = ()
    photo_cover_index: int = 0
    auto_add_music: bool = False


class PostPlan(_Frozen):
    """What preflight resolved from the request and the creator's info: what is sent."""

    privacy_level: str | None = None  # None for a video draft (the creator chooses)
    # None: not sent (drafts); otherwise what was asked within what the creator allows.
    disable_comment: bool | None = None
    disable_duet: bool | None = None
    disable_stitch: bool | None = None
    creator_nickname: str | None = None
    max_video_post_duration_sec: int | None = None


class PreparedPhoto(_Frozen):
    """One image prepared to TikTok's limits and put in the media store for TikTok to pull."""

    prepared_key: str
    public_url: str
    width: int
    height: int
    size: int
    sha256: str


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
    request: Mapped[PostRequest] = mapped_column(
        PydanticJSON(PostRequest), default=PostRequest, nullable=False
    )
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cost_points: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # What the ledger gave back for this post (a failure or a cancellation), at most once.
    points_refunded: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", nullable=False
    )

    # What the pipeline learnt.
    plan: Mapped[PostPlan | None] = mapped_column(PydanticJSON(PostPlan), nullable=True)
    # Prepared in order, so these are the first len(prepared_photos) of request.photos.
    prepared_photos: Mapped[tuple[PreparedPhoto, ...]] = mapped_column(
        PydanticJSON(tuple[PreparedPhoto, ...]), default=tuple, nullable=False
    )
    transfer: Mapped[Transfer | None] = mapped_column(StrEnumType(Transfer), nullable=True)
    media_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    media_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    media_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    tiktok_publish_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    # Crash safety: set just before an init that may reach TikTok is sent, cleared when a
    # new init may be sent; a PULL_FROM_URL post that finds it set has an unknown fate.
    init_attempted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # False when media_path is the media store's own file, which must not be deleted.
    media_path_owned: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true(), nullable=False
    )
    # Failures of the current step; any step that completes resets it.
    step_failures: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", nullable=False
    )
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
