from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Integer, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import RecordModel
from zakipost.db.types import UTCDateTime


class ConnectionExpiryNotice(RecordModel):
    """A ``connection.expiring`` event already told: once per horizon and warning."""

    __tablename__ = "connection_expiry_notices"
    __table_args__ = (UniqueConstraint("connection_id", "reconnect_by", "days_before"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("connections.id", ondelete="CASCADE"), nullable=False
    )
    # The horizon warned about: a reconnect gives a new one, warned about afresh.
    reconnect_by: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    days_before: Mapped[int] = mapped_column(Integer, nullable=False)
