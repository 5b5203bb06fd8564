from __future__ import annotations

import enum
import uuid

from sqlalchemy import BigInteger, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import RecordModel
from zakipost.db.types import StrEnumType


class PointEntryKind(enum.StrEnum):
    grant = "grant"  # points added by an operator or a plan
    debit = "debit"  # points spent on a publish
    refund = "refund"  # a debit given back (the publish failed)


class PointEntry(RecordModel):
    """One line of the append-only points ledger; the balance is the sum of amounts."""

    __tablename__ = "point_entries"

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    kind: Mapped[PointEntryKind] = mapped_column(StrEnumType(PointEntryKind), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    # What the entry is about, e.g. a publish id; a refund names the same reference.
    reference: Mapped[str | None] = mapped_column(String(100), index=True, nullable=True)
