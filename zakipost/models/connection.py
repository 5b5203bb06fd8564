from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.connection.status import ConnectionStatus
from zakipost.db.base import RecordModel
from zakipost.db.types import StrEnumType, UTCDateTime


class Connection(RecordModel):
    """A TikTok account connected to a ZakiPost account, with its encrypted tokens."""

    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("account_id", "open_id"),
        Index("ix_connections_status_refresh_planned_at", "status", "refresh_planned_at"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    # What callers pass as tiktok_account_id.
    internal_token: Mapped[uuid.UUID] = mapped_column(
        Uuid, unique=True, default=uuid.uuid4, nullable=False
    )
    open_id: Mapped[str] = mapped_column(String(128), nullable=False)
    union_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    username: Mapped[str | None] = mapped_column(String(128), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    avatar_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[ConnectionStatus] = mapped_column(
        StrEnumType(ConnectionStatus), default=ConnectionStatus.active, nullable=False
    )
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    access_token_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    access_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The access token's lifetime as TikTok stated it (``expires_in``); refreshes are planned
    # from it, never from a constant.
    access_expires_in: Mapped[int | None] = mapped_column(Integer, nullable=True)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    refresh_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_refreshed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the next proactive refresh is due (a jittered share of the access lifetime).
    refresh_planned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Written before a refresh request leaves: a refresh that was sent for this generation
    # and never answered (a crash, a lost answer) is visible to the next attempt.
    refresh_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refresh_sent_generation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # When the refresh whose answer was lost was sent. TikTok may have rotated the token: the
    # next attempt sends the stored one once to learn whether it still works.
    refresh_outcome_unknown_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    # Bumped on every token write; a refresh that read an older generation lost the race.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # A short lease on refreshing: refresh tokens rotate, so two refreshes at once would
    # leave one of them holding a dead token. Only the holder may write new tokens.
    refresh_lock_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refresh_lock_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    creator_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    creator_info_fetched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The creator's daily post cap as learnt from TikTok's answers (rolling 24 h).
    daily_post_cap: Mapped[int] = mapped_column(Integer, default=15, nullable=False)
