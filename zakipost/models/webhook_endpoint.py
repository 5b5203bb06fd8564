from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import RecordModel
from zakipost.db.types import UTCDateTime


class WebhookEndpoint(RecordModel):
    """A URL of the account's that ZakiPost tells about its posts and connections."""

    __tablename__ = "webhook_endpoints"

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    # The event types wanted; None: every type, including ones added later.
    events: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # Why ZakiPost switched the endpoint off (its deliveries kept failing); None otherwise.
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The signing secret ("whsec_..."), sealed by the vault; shown once, never again.
    secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    # After a rotation, the previous secret keeps signing until previous_secret_expires_at.
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    secret_rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def wants(self, event_type: str) -> bool:
        """Whether this endpoint subscribed to ``event_type``."""
        wanted: list[Any] | None = self.events
        return wanted is None or event_type in wanted
