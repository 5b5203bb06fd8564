"""What TikTok saw of a client's tokens: each refresh attempt and each use of an expired token.

Clients' tests assert on it ("one refresh token was accepted at most once", "no request
with an expired token"). Tokens are recorded as sha256 digests, never as themselves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def token_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class RefreshAttempt:
    """One `grant_type=refresh_token` request the token endpoint handled."""

    at: datetime
    # None when the request carried no refresh token.
    refresh_token_sha256: str | None
    # "rotated" (new refresh token), "refreshed" (rotation off), or the OAuth error.
    outcome: str
    open_id: str | None = None
    # The answer was cut off after TikTok handled the request (lost-answer fault).
    answer_lost: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "refresh_token_sha256": self.refresh_token_sha256,
            "outcome": self.outcome,
            "open_id": self.open_id,
            "answer_lost": self.answer_lost,
        }


@dataclass
class ExpiredTokenUse:
    """A bearer request refused because its access token had expired."""

    at: datetime
    endpoint: str
    open_id: str
    expired_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "endpoint": self.endpoint,
            "open_id": self.open_id,
            "expired_at": self.expired_at.isoformat(),
        }


@dataclass
class TokenLog:
    refreshes: list[RefreshAttempt] = field(default_factory=list)
    expired_uses: list[ExpiredTokenUse] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "refreshes": [r.to_dict() for r in self.refreshes],
            "expired_token_uses": [u.to_dict() for u in self.expired_uses],
        }
