"""TikTok webhooks: the ``TikTok-Signature`` check and the event envelope."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zakipost.tiktok._errors import InvalidWebhook

SIGNATURE_HEADER = "TikTok-Signature"
"""The header that carries ``t=<unix time>,s=<hex HMAC-SHA256>``; match it case-insensitively."""


class WebhookEventName(StrEnum):
    """Event names TikTok sends; the last one keeps TikTok's documented misspelling."""

    AUTHORIZATION_REMOVED = "authorization.removed"
    POST_PUBLISH_FAILED = "post.publish.failed"
    POST_PUBLISH_COMPLETE = "post.publish.complete"
    POST_PUBLISH_INBOX_DELIVERED = "post.publish.inbox_delivered"
    POST_PUBLISH_PUBLICLY_AVAILABLE = "post.publish.publicly_available"
    POST_PUBLISH_NO_LONGER_PUBLICLY_AVAILABLE = "post.publish.no_longer_publicaly_available"
    VIDEO_UPLOAD_FAILED = "video.upload.failed"
    VIDEO_PUBLISH_COMPLETED = "video.publish.completed"
    PORTABILITY_DOWNLOAD_READY = "portability.download.ready"


_EVENT_ALIASES = {
    "post.publish.no_longer_publicly_available": (
        WebhookEventName.POST_PUBLISH_NO_LONGER_PUBLICLY_AVAILABLE
    ),
}


def verify_webhook_signature(
    header_value: str | None,
    raw_body: bytes | str,
    client_secret: str,
    *,
    now: float | datetime,
    tolerance: float = 300,
) -> bool:
    """Whether ``raw_body`` was signed by TikTok with ``client_secret`` within ``tolerance`` s.

    ``header_value`` is the ``TikTok-Signature`` header; ``now`` is a Unix time or a datetime.
    Pass the body exactly as received: re-serialised JSON will not match.
    """
    if not header_value:
        return False
    timestamp, signatures = None, []
    for item in header_value.split(","):
        key, sep, value = item.strip().partition("=")
        if sep and key.strip() == "t" and timestamp is None:
            timestamp = value.strip()
        elif sep and key.strip() == "s":
            signatures.append(value.strip().lower().encode())
    if timestamp is None or not timestamp.isdigit() or not signatures:
        return False
    body = raw_body.encode() if isinstance(raw_body, str) else raw_body
    expected = hmac.new(
        client_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected.encode(), sig) for sig in signatures):
        return False
    current = now.timestamp() if isinstance(now, datetime) else float(now)
    return abs(current - int(timestamp)) <= tolerance


class WebhookEvent(BaseModel):
    """A webhook event with its ``content`` already decoded from its JSON string.

    ``event`` is normalised: both spellings of ``no_longer_publicaly_available`` become
    ``WebhookEventName.POST_PUBLISH_NO_LONGER_PUBLICLY_AVAILABLE``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)

    event: str
    client_key: str = ""
    create_time: int | None = None
    user_openid: str | None = None
    content: dict[str, Any] = Field(default_factory=dict)

    def _text(self, key: str) -> str | None:
        value = self.content.get(key)
        return None if value is None else str(value)

    @property
    def publish_id(self) -> str | None:
        """The publish_id of a ``post.publish.*`` event."""
        return self._text("publish_id")

    @property
    def publish_type(self) -> str | None:
        """``publish_type``, e.g. ``INBOX_SHARE`` or ``DIRECT_PUBLISH``."""
        return self._text("publish_type")

    @property
    def post_id(self) -> str | None:
        """The public post id, as a string (TikTok sends it as a string or a number)."""
        return self._text("post_id")

    @property
    def fail_reason(self) -> str | None:
        """The fail_reason of a ``post.publish.failed`` event."""
        if self.event != WebhookEventName.POST_PUBLISH_FAILED:
            return None
        return self._text("reason")

    @property
    def removal_reason(self) -> int | None:
        """Why an ``authorization.removed`` event happened (0 unknown … 5 developer revoked)."""
        reason = self.content.get("reason")
        if self.event != WebhookEventName.AUTHORIZATION_REMOVED or isinstance(reason, bool):
            return None
        return reason if isinstance(reason, int) else None


def parse_webhook(raw_body: bytes | str) -> WebhookEvent:
    """Parse a webhook body; raises ``InvalidWebhook`` when it is not a TikTok event."""
    try:
        envelope = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidWebhook("the webhook body is not JSON") from None
    if not isinstance(envelope, dict):
        raise InvalidWebhook("the webhook body is not a JSON object")
    content = envelope.get("content")
    if isinstance(content, str | bytes):
        try:
            content = json.loads(content) if content.strip() else {}
        except ValueError:
            raise InvalidWebhook("the webhook content is not a JSON string") from None
    if content is None:
        content = {}
    if not isinstance(content, dict):
        raise InvalidWebhook("the webhook content is not a JSON object")
    event = envelope.get("event")
    if isinstance(event, str):
        event = _EVENT_ALIASES.get(event, event)
    try:
        return WebhookEvent.model_validate({**envelope, "event": event, "content": content})
    except ValidationError as exc:
        names = ", ".join(".".join(map(str, err["loc"])) for err in exc.errors())
        raise InvalidWebhook(f"the webhook has missing or invalid fields: {names}") from None
