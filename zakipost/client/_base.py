"""What both clients share: configuration (arguments, else the environment), headers, and
the retry rule."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from zakipost import __version__
from zakipost.client._ops import Call
from zakipost.client.errors import ConfigurationError, retry_after

DEFAULT_API_URL = "http://127.0.0.1:8000"
KEY_HEADER = "X-ZakiPost-Client-Key"
SECRET_HEADER = "X-ZakiPost-Client-Secret"  # noqa: S105 (a header name)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_WAIT = 60.0
"""The longest the client waits between two attempts, whatever Retry-After says."""


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    headers: dict[str, str]

    @classmethod
    def resolve(
        cls,
        *,
        base_url: str | None,
        client_key: str | None,
        client_secret: str | None,
        api_key: str | None,
        env: Mapping[str, str] | None = None,
    ) -> ClientConfig:
        """Arguments first, then ``ZAKIPOST_API_URL``, ``ZAKIPOST_CLIENT_KEY`` and
        ``ZAKIPOST_CLIENT_SECRET``, or ``ZAKIPOST_API_KEY`` (a named ``zp_sk_…`` key, sent as a
        bearer token). A pair given as arguments wins over a named key in the environment,
        and the other way round."""
        environ = os.environ if env is None else env
        url = (base_url or environ.get("ZAKIPOST_API_URL") or DEFAULT_API_URL).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"The API URL {url!r} is not http(s)://…; set ZAKIPOST_API_URL or base_url.",
                code="client_not_configured",
            )
        headers = {"User-Agent": f"zakipost-python/{__version__}", "Accept": "application/json"}
        if client_key or client_secret:
            pair = (client_key, client_secret)
        elif api_key:
            pair = (None, None)
        else:
            pair = (environ.get("ZAKIPOST_CLIENT_KEY"), environ.get("ZAKIPOST_CLIENT_SECRET"))
        named = api_key or (None if any(pair) else environ.get("ZAKIPOST_API_KEY"))
        if any(pair):
            key, secret = pair
            if not key or not secret:
                raise ConfigurationError(
                    "Give both the client key and the client secret (ZAKIPOST_CLIENT_KEY and "
                    "ZAKIPOST_CLIENT_SECRET), or a named key (ZAKIPOST_API_KEY).",
                    code="client_not_configured",
                )
            headers[KEY_HEADER] = key.strip()
            headers[SECRET_HEADER] = secret.strip()
        elif named:
            headers["Authorization"] = f"Bearer {named.strip()}"
        else:
            raise ConfigurationError(
                "No API credentials: set ZAKIPOST_CLIENT_KEY and ZAKIPOST_CLIENT_SECRET (the "
                "dashboard's API keys page shows them), or ZAKIPOST_API_KEY (a named key).",
                code="client_not_configured",
            )
        return cls(url, headers)


@dataclass
class RetryPolicy:
    """Up to ``max_retries`` more attempts on 429 and 5xx (and lost connections of requests
    safe to resend), each after ``Retry-After`` when given, else an exponential backoff with
    jitter; never longer than :data:`MAX_RETRY_WAIT`."""

    max_retries: int = 3
    backoff: float = 0.5
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            suggested = retry_after(response.headers)
            if suggested is not None:
                return min(suggested, MAX_RETRY_WAIT)
        return min(self.backoff * (2**attempt) * (0.5 + self.rng()), MAX_RETRY_WAIT)

    def should_retry(self, call: Call, attempt: int, response: httpx.Response | None) -> bool:
        if attempt >= self.max_retries:
            return False
        if response is None:
            return call.idempotent
        if response.status_code == 429:
            return True
        return response.status_code in RETRY_STATUSES and call.idempotent


def default_clock() -> float:
    return time.monotonic()
