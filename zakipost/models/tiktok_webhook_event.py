from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import Base
from zakipost.db.types import UTCDateTime


class TikTokWebhookEvent(Base):
    """A webhook TikTok sent, remembered so a repeated delivery is applied once.

    TikTok gives its events no id and delivers at least once (retrying for up to 72 hours),
    so the key is the SHA-256 of the raw body; ``maintenance.prune`` forgets rows once TikTok
    can no longer repeat them.
    """

    __tablename__ = "tiktok_webhook_events"
    __table_args__ = (Index("ix_tiktok_webhook_events_received_at", "received_at"),)

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
