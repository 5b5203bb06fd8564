"""Reading TikTok's two response shapes: the v2 ``{data, error}`` envelope and flat OAuth.

Both readers decide from the body first (``error.code`` or the OAuth ``error``) and fall
back on the HTTP status only when the body carries no code at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from zakipost.tiktok._errors import (
    TikTokApiError,
    TikTokError,
    error_for_code,
    error_for_oauth,
    error_for_status,
)

M = TypeVar("M", bound=BaseModel)

_REDACTED = "[redacted]"


def redact(text: str, secrets: Sequence[str | None]) -> str:
    """``text`` with every non-empty secret replaced, so it can go into an exception."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def parse_model(model: type[M], data: Any, what: str) -> M:
    """Validate ``data`` as ``model``, or raise ``TikTokApiError`` naming only the fields.

    Pydantic's own message would echo input values, which can include tokens.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        names = ", ".join(".".join(map(str, err["loc"])) or "body" for err in exc.errors())
        raise TikTokApiError(
            f"TikTok's {what} response has missing or invalid fields: {names}",
            code="unexpected_response",
        ) from None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _without_json(response: httpx.Response) -> dict[str, Any]:
    """An empty 2xx body is a success without data; anything else non-JSON is an error."""
    status = response.status_code
    if response.is_success and not response.content.strip():
        return {}
    if status >= 400:
        raise error_for_status(status, f"TikTok returned HTTP {status} without a JSON body")
    raise TikTokApiError(
        f"TikTok returned HTTP {status} without a JSON body",
        code="unexpected_response",
        http_status=status,
    )


def _v2_error(
    error: dict[str, Any], http_status: int, secrets: Sequence[str | None]
) -> TikTokError | None:
    code = error.get("code")
    if not code or code == "ok":
        return None
    message = redact(str(error.get("message") or ""), secrets)
    return error_for_code(str(code), message, log_id=error.get("log_id"), http_status=http_status)


def read_api_response(response: httpx.Response, secrets: Sequence[str | None]) -> dict[str, Any]:
    """``data`` of a v2 response, or the ``TikTokError`` for its ``error.code``."""
    body = _json_object(response)
    if body is None:
        return _without_json(response)
    error = body.get("error")
    if isinstance(error, dict):
        if (exc := _v2_error(error, response.status_code, secrets)) is not None:
            raise exc
        if error.get("code") == "ok":
            data = body.get("data")
            return data if isinstance(data, dict) else {}
    if not response.is_success:
        raise error_for_status(response.status_code, f"TikTok returned HTTP {response.status_code}")
    data = body.get("data")
    return data if isinstance(data, dict) else {}


def read_oauth_response(response: httpx.Response, secrets: Sequence[str | None]) -> dict[str, Any]:
    """The flat body of an OAuth response, or the error it carries (even with HTTP 200)."""
    body = _json_object(response)
    if body is None:
        return _without_json(response)
    error = body.get("error")
    if isinstance(error, str) and error:
        description = redact(str(body.get("error_description") or ""), secrets)
        raise error_for_oauth(
            error, description, log_id=body.get("log_id"), http_status=response.status_code
        )
    if isinstance(error, dict) and (exc := _v2_error(error, response.status_code, secrets)):
        raise exc
    if not response.is_success:
        raise error_for_status(response.status_code, f"TikTok returned HTTP {response.status_code}")
    return body
