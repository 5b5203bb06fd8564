from __future__ import annotations

from zakipost.errors import BadRequest, Unauthorized


class InvalidTikTokSignature(Unauthorized):
    """The TikTok-Signature header is missing, does not match the body, or is too old."""

    code = "invalid_tiktok_signature"


class MalformedTikTokWebhook(BadRequest):
    """The body is not a TikTok webhook event."""

    code = "invalid_tiktok_webhook"
