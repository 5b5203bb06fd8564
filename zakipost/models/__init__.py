"""ORM models, one module per table; importing this package registers them all."""

from zakipost.db.base import Base
from zakipost.models.account import Account
from zakipost.models.api_key import ApiKey
from zakipost.models.connection import Connection, ConnectionStatus
from zakipost.models.connection_expiry_notice import ConnectionExpiryNotice
from zakipost.models.dashboard_session import DashboardSession
from zakipost.models.idempotency_key import IdempotencyKey
from zakipost.models.job import Job, JobStatus
from zakipost.models.media_object import MediaObject, MediaStatus
from zakipost.models.oauth_state import OAuthState
from zakipost.models.point_entry import PointEntry, PointEntryKind
from zakipost.models.post import (
    MediaKind,
    PhotoSource,
    Post,
    PostMode,
    PostPlan,
    PostRequest,
    PreparedPhoto,
    Transfer,
)
from zakipost.models.post_event import PostEvent
from zakipost.models.rate_budget import RateBudgetUse
from zakipost.models.tiktok_webhook_event import TikTokWebhookEvent
from zakipost.models.webhook_delivery import DeliveryStatus, WebhookDelivery
from zakipost.models.webhook_endpoint import WebhookEndpoint
from zakipost.models.worker_process import WorkerProcess

__all__ = [
    "Account",
    "ApiKey",
    "Base",
    "Connection",
    "ConnectionExpiryNotice",
    "ConnectionStatus",
    "DashboardSession",
    "DeliveryStatus",
    "IdempotencyKey",
    "Job",
    "JobStatus",
    "MediaKind",
    "MediaObject",
    "MediaStatus",
    "OAuthState",
    "PhotoSource",
    "PointEntry",
    "PointEntryKind",
    "Post",
    "PostEvent",
    "PostMode",
    "PostPlan",
    "PostRequest",
    "PreparedPhoto",
    "RateBudgetUse",
    "TikTokWebhookEvent",
    "Transfer",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkerProcess",
]
