"""Secrets and signatures (Standard Webhooks, through the ``standardwebhooks`` package)."""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
# Standard Webhooks asks for 24 to 64 random bytes.
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_context(endpoint_id: object) -> str:
    """The vault context sealing an endpoint's current secret."""
    return f"webhook_endpoints.secret:{endpoint_id}"


def previous_secret_context(endpoint_id: object) -> str:
    """The vault context sealing an endpoint's previous secret (during a rotation overlap)."""
    return f"webhook_endpoints.previous_secret:{endpoint_id}"


def headers(
    message_id: str, timestamp: dt.datetime, body: str, signing_secrets: list[str]
) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret, space-separated, so a
    receiver holding either secret of a rotation verifies."""
    signatures = " ".join(
        Webhook(secret).sign(message_id, timestamp, body) for secret in signing_secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }
