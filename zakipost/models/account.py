from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import RecordModel
from zakipost.db.types import UTCDateTime


class Account(RecordModel):
    """A ZakiPost customer: the owner of keys, points and TikTok connections."""

    __tablename__ = "accounts"

    # Stored lower-cased, so uniqueness is case-insensitive on both dialects.
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    plan: Mapped[str] = mapped_column(String(64), nullable=False, default="free")
    plan_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The fixed key pair of the contract: the key is public, the secret is kept twice,
    # as an HMAC for constant-time verification and encrypted so the owner can view it.
    client_key: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    client_secret_hash: Mapped[str] = mapped_column(String(128), nullable=False)
    client_secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    keys_rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    is_admin: Mapped[bool] = mapped_column(default=False, nullable=False)
    # The sum of the account's points ledger, kept with each entry in the entry's own
    # transaction (zakipost.billing.points), so spending never sums the whole ledger.
    points_balance: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default="0", nullable=False
    )
