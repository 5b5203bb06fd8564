from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.billing.kinds import PointEntryKind
from zakipost.db.base import RecordModel
from zakipost.db.types import StrEnumType


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
