"""The API's request and response bodies: the server's own pydantic models (imported from
modules free of the database and web stack), plus the webhook models.

Response models ignore fields they do not know, so a client keeps working against a newer
server that added some.
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict

from zakipost.account.schemas import AccountOverview, CredentialsOut, PointEntryOut, PointsOut
from zakipost.api_key.schemas import ApiKeyCreated, ApiKeyOut
from zakipost.connection.schemas import (
    ConnectStarted,
    CreatorCapabilities,
    TikTokAccountOut,
)
from zakipost.post.schemas import (
    OnDailyCap,
    PhotoPublishRequest,
    PostError,
    PostModeIn,
    PostOut,
    PostPage,
    PrivacyLevel,
    PublishAccepted,
    ScheduleChange,
    TimelineEvent,
    VideoPublishRequest,
)
from zakipost.publishing.schemas import CapState
from zakipost.upload.schemas import (
    MediaOut,
    MediaProblem,
    PresignedOut,
    PresignRequest,
    ResumableCreate,
)

FINAL_STATUSES = frozenset({"published", "in_inbox", "failed", "cancelled"})
"""Where :meth:`~zakipost.client.Client.wait` stops: a post in these has ended (a draft in
the inbox may still become ``published`` once the creator posts it)."""

SUCCESS_STATUSES = frozenset({"published", "in_inbox"})


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", from_attributes=True)


class WebhookEndpoint(_Lenient):
    """A webhook endpoint (``/v1/webhooks``); the secret is only in :class:`WebhookCreated`."""

    id: uuid.UUID
    url: str
    events: list[str] | None = None
    description: str | None = None
    enabled: bool
    disabled_reason: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime | None = None
    secret_rotated_at: dt.datetime | None = None


class WebhookCreated(WebhookEndpoint):
    """An endpoint as created or rotated: ``secret`` signs the deliveries (shown once)."""

    secret: str | None = None


class WebhookDelivery(_Lenient):
    id: uuid.UUID
    event_type: str
    event_id: str
    status: str
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    last_attempt_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    created_at: dt.datetime


class WebhookDeliveryPage(_Lenient):
    items: list[WebhookDelivery]
    next_cursor: str | None = None


__all__ = [
    "FINAL_STATUSES",
    "SUCCESS_STATUSES",
    "AccountOverview",
    "ApiKeyCreated",
    "ApiKeyOut",
    "CapState",
    "ConnectStarted",
    "CreatorCapabilities",
    "CredentialsOut",
    "MediaOut",
    "MediaProblem",
    "OnDailyCap",
    "PhotoPublishRequest",
    "PointEntryOut",
    "PointsOut",
    "PostError",
    "PostModeIn",
    "PostOut",
    "PostPage",
    "PresignRequest",
    "PresignedOut",
    "PrivacyLevel",
    "PublishAccepted",
    "ResumableCreate",
    "ScheduleChange",
    "TikTokAccountOut",
    "TimelineEvent",
    "VideoPublishRequest",
    "WebhookCreated",
    "WebhookDelivery",
    "WebhookDeliveryPage",
    "WebhookEndpoint",
]
