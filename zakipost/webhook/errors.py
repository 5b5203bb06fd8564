"""Webhook errors, each with its HTTP meaning."""

from __future__ import annotations

from zakipost.errors import NotFound, ValidationFailed


class WebhookNotFound(NotFound):
    """No such webhook endpoint."""

    code = "webhook_not_found"


class DeliveryNotFound(NotFound):
    """No such webhook delivery."""

    code = "webhook_delivery_not_found"


class WebhookUrlRefused(ValidationFailed):
    """The webhook URL cannot be used."""

    code = "webhook_url_refused"


class UnknownEventType(ValidationFailed):
    """Unknown event type."""

    code = "unknown_event_type"
