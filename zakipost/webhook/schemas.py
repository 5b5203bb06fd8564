"""The webhook API's shapes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import get_args

from pydantic import Field

from zakipost.events import EventType
from zakipost.models import DeliveryStatus
from zakipost.plain_text import Text
from zakipost.schemas import Schema

# Every event an endpoint can subscribe to.
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
# Sent by POST /v1/webhooks/{id}/test to that endpoint only, whatever it subscribed to.
TEST_EVENT = "webhook.test"

_EVENTS_DESCRIPTION = (
    "The event types to send; null or absent: every type, including types added later. "
    "Known types: " + ", ".join(EVENT_TYPES) + "."
)


class WebhookCreate(Schema):
    url: Text = Field(
        max_length=2048,
        description="Where to POST events: an https:// URL on a public address.",
        examples=["https://example.com/hooks/zakipost"],
    )
    events: list[Text] | None = Field(
        None, max_length=len(EVENT_TYPES), description=_EVENTS_DESCRIPTION
    )
    description: Text | None = Field(None, max_length=500)


class WebhookUpdate(Schema):
    url: Text | None = Field(None, max_length=2048)
    events: list[Text] | None = Field(
        None, max_length=len(EVENT_TYPES), description=_EVENTS_DESCRIPTION
    )
    description: Text | None = Field(None, max_length=500)
    enabled: bool | None = Field(
        None, description="false stops deliveries; true turns the endpoint back on."
    )
    rotate_secret: bool = Field(
        False, description="Make a new secret (returned once, in this answer)."
    )
    overlap_seconds: int | None = Field(
        None,
        ge=0,
        le=30 * 24 * 3600,
        description="With rotate_secret: how long the previous secret keeps signing beside "
        "the new one (default ZAKIPOST_WEBHOOKS_ROTATION_OVERLAP_SECONDS, 24 h).",
    )


class WebhookOut(Schema):
    id: uuid.UUID
    url: str
    events: list[str] | None = Field(description="null: every event type.")
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why ZakiPost switched the endpoint off (its deliveries failed for the "
        "whole retry window); null otherwise."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    secret_rotated_at: dt.datetime | None


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="The signing secret; shown only now (and after a rotation).",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class DeliveryOut(Schema):
    id: uuid.UUID = Field(description="The webhook-id header of every attempt.")
    event_type: str
    event_id: uuid.UUID
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = Field(description="The endpoint's last HTTP answer.")
    last_error: str | None
    last_attempt_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next (older) page.")
