"""Errors in Zernio's envelope: ``{"error", "type", "code", "param"}``, which its SDK turns
into ``ZernioAuthenticationError`` (401), ``ZernioForbiddenError`` (403),
``ZernioNotFoundError`` (404), ``ZernioRateLimitError`` (429) and ``ZernioAPIError``."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from zakipost.errors import BadRequest

_TYPES = {
    401: "authentication_error",
    402: "permission_error",
    403: "permission_error",
    404: "not_found",
    429: "rate_limit_error",
}


class PlatformNotSupported(BadRequest):
    """ZakiPost publishes to TikTok only."""

    code = "platform_not_supported"


class UnsupportedFeature(BadRequest):
    """ZakiPost does not offer this part of Zernio's API."""

    code = "not_supported"


def error_response(
    status: int, code: str, message: str, details: dict[str, Any], headers: dict[str, str] | None
) -> JSONResponse:
    # Zernio answers invalid input with 400; ZakiPost's 422 means the same here.
    shown = 400 if status == 422 else status
    body: dict[str, Any] = {
        "error": message,
        "type": _TYPES.get(shown, "api_error" if shown >= 500 else "invalid_request_error"),
        "code": code,
    }
    param = details.get("param") or details.get("field")
    if param is None and details.get("fields"):
        param = details["fields"][0].get("field")
    if param:
        body["param"] = str(param)
    extra = {k: v for k, v in details.items() if k not in ("param", "field")}
    if extra:
        body["details"] = extra
    return JSONResponse(body, status_code=shown, headers=headers)
