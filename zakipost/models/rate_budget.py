from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Identity, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import Base
from zakipost.db.types import UTCDateTime


class RateBudgetUse(Base):
    """One request spent against a TikTok per-token budget (sliding one-minute windows).

    Kept in the database so every worker on every machine shares the same budget. The
    dashboard's failed log-ins use the same table under ``login:…`` buckets; the hourly
    ``maintenance.prune`` job deletes rows older than a day.
    """

    __tablename__ = "rate_budget_uses"
    __table_args__ = (Index("ix_rate_budget_uses_bucket_at", "bucket", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True
    )
    # "<connection id>:<endpoint family>", e.g. "…:init".
    bucket: Mapped[str] = mapped_column(String(80), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
