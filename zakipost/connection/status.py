"""A connection's status (kept free of the ORM: the API schemas and the client use it)."""

from __future__ import annotations

import enum


class ConnectionStatus(enum.StrEnum):
    active = "active"  # tokens work; publishing allowed
    reconnect_required = "reconnect_required"  # TikTok refused a refresh; the user must re-consent
    revoked = "revoked"  # disconnected by the owner or by the creator in TikTok
