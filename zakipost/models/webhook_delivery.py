from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import RecordModel
from zakipost.db.types import StrEnumType, UTCDateTime


class DeliveryStatus(enum.StrEnum):
    pending = "pending"  # not delivered yet: a job will (re)try it at next_attempt_at
    succeeded = "succeeded"  # the endpoint answered 2xx
    failed = "failed"  # out of time (retry_until passed), or the endpoint was switched off


class WebhookDelivery(RecordModel):
    """One event for one endpoint. Its id is the ``webhook-id`` of every attempt, and once
    the first attempt ran, ``body`` holds the exact bytes every attempt sends."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The deliveries log: an endpoint's deliveries, newest first.
        Index("ix_webhook_deliveries_endpoint_id_created_at", "endpoint_id", "created_at", "id"),
        # Has the endpoint delivered anything since ...? (disabling an endpoint)
        Index("ix_webhook_deliveries_endpoint_id_status", "endpoint_id", "status"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    )
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    # One id per event; deliveries of one event to several endpoints share it.
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    # What the event is about: "post", "connection" or "endpoint" (webhook.test).
    subject_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    # The JSON body, frozen by the first attempt so every retry sends the same bytes.
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        StrEnumType(DeliveryStatus), default=DeliveryStatus.pending, nullable=False
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # No retry is scheduled past this. None: the event's time plus the retry window
    # (ZAKIPOST_WEBHOOKS_RETRY_WINDOW_SECONDS); a manual retry sets a new window.
    retry_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
