from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Identity, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import Base
from zakipost.db.types import UTCDateTime
from zakipost.kit.clock import utcnow


class PostEvent(Base):
    """One line of a post's timeline: what happened, when, in the words a caller reads."""

    __tablename__ = "post_events"

    # An increasing integer keeps the timeline in order even within one clock tick.
    # (SQLite only auto-increments an INTEGER primary key.)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True
    )
    post_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("posts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    step: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
