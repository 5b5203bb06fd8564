from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import RecordModel
from zakipost.db.types import StrEnumType, UTCDateTime
from zakipost.models.post import MediaKind
from zakipost.upload.kinds import MediaStatus


class MediaObject(RecordModel):
    """A file uploaded to ZakiPost, kept in the media store under ``storage_key``.

    ``used_by`` is the publish id of the post that claimed it; claimed media never expires
    (the pipeline releases it once the post is final).
    """

    __tablename__ = "media_objects"

    media_id: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    kind: Mapped[MediaKind] = mapped_column(StrEnumType(MediaKind), nullable=False)
    status: Mapped[MediaStatus] = mapped_column(StrEnumType(MediaStatus), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_sec: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Announced uploads: the announced size; resumable ones also the bytes received so far
    # and the store keys of the chunks, in order (None for other uploads).
    declared_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    received: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    parts: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    notes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True, nullable=False)
    used_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
