"""One-minute sliding-window rate limits keyed per access token (api-facts.md §5)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from .config import SandboxConfig
from .errors import ApiError

WINDOW = timedelta(minutes=1)
_INITS = ("video.init", "inbox.init", "content.init")
_DISPLAY = ("user.info", "video.list", "video.query")


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[tuple[str, str], deque[datetime]] = {}

    def reset(self) -> None:
        self._hits.clear()

    def check(self, config: SandboxConfig, endpoint: str, token: str, now: datetime) -> None:
        """Count one call of `endpoint` by `token`, or raise 429 `rate_limit_exceeded`."""
        limit = config.rate_limits.get(endpoint)
        if not config.rate_limits_enabled or limit is None:
            return
        key = token
        if endpoint in _DISPLAY and config.display_rate_limit_scope == "app":
            key = config.client_key
        shared = endpoint in _INITS and config.init_rate_limit_shared
        seen = 0
        for bucket in _INITS if shared else (endpoint,):
            hits = self._hits.setdefault((bucket, key), deque())
            while hits and now - hits[0] >= WINDOW:
                hits.popleft()
            seen += len(hits)
        if seen >= limit:
            raise ApiError("rate_limit_exceeded")
        self._hits[(endpoint, key)].append(now)
