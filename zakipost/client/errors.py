"""The API's error envelope as exceptions: ``code``, ``message`` and ``details`` of every
``{"success": false, ...}`` answer, one class per HTTP meaning."""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any

import httpx


class ZakiPostError(Exception):
    """Any error from ZakiPost (or from talking to it). ``status_code`` is None when no
    HTTP answer came (a transport error, the client's own checks, a wait that timed out)."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "error",
        details: dict[str, Any] | None = None,
        status_code: int | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or {}
        self.status_code = status_code
        self.response = response

    def __str__(self) -> str:
        prefix = f"{self.status_code} " if self.status_code else ""
        return f"{prefix}{self.code}: {self.message}"


class ConfigurationError(ZakiPostError):
    """The client has no credentials (or a bad API URL); nothing was sent."""


class TransportError(ZakiPostError):
    """ZakiPost could not be reached (connection refused, timeout), after the retries."""


class WaitTimeout(ZakiPostError):
    """``wait()`` gave up before the post ended; ``post`` is the last state seen."""

    def __init__(self, message: str, *, post: Any) -> None:
        super().__init__(message, code="wait_timeout")
        self.post = post


class AuthenticationError(ZakiPostError):
    """401: the key pair or named key is wrong or missing."""


class InsufficientPoints(ZakiPostError):
    """402: the balance is below the cost of a publish (``details.balance``, ``details.cost``)."""


class PermissionDenied(ZakiPostError):
    """403: the plan has no API access, or the subscription expired."""


class NotFound(ZakiPostError):
    """404: no such post, account, media, key or webhook (or another account's)."""


class Conflict(ZakiPostError):
    """409: the request conflicts with the current state (e.g. a reused idempotency key)."""


class ValidationError(ZakiPostError):
    """422 (or a request the client refused before sending it): ``details.fields`` lists
    each field and what to change."""


class RateLimited(ZakiPostError):
    """429 after the client's retries: ``retry_after`` is how many seconds to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(ZakiPostError):
    """5xx after the client's retries."""


_BY_STATUS: dict[int, type[ZakiPostError]] = {
    401: AuthenticationError,
    402: InsufficientPoints,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: ValidationError,
}


def retry_after(headers: httpx.Headers) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None."""
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


def error_for(response: httpx.Response) -> ZakiPostError:
    """The exception for an error answer, from its envelope when it has one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]
        code = str(body.get("code") or "error")
        details = body.get("details") if isinstance(body.get("details"), dict) else None
    else:
        message = response.text[:500] or response.reason_phrase or "error"
        code, details = "http_error", None
    status = response.status_code
    common: dict[str, Any] = {
        "code": code,
        "details": details,
        "status_code": status,
        "response": response,
    }
    if status == 429:
        return RateLimited(message, retry_after=retry_after(response.headers), **common)
    if status >= 500:
        return ServerError(message, **common)
    kind = _BY_STATUS.get(status)
    if kind is None:
        kind = ValidationError if status in (400, 413, 415) else ZakiPostError
    return kind(message, **common)
