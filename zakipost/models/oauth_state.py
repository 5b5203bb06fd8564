from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import RecordModel
from zakipost.db.types import UTCDateTime


class OAuthState(RecordModel):
    """A pending Connect TikTok: single use, short-lived, bound to the account that began it."""

    __tablename__ = "oauth_states"

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    # Only a hash of the state is kept: the value itself travels through the browser.
    state_hash: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    code_verifier_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    # Where an API-initiated connect sends the user afterwards (None: the dashboard).
    redirect_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
