"""Errors in CodivUpload's envelope, ``{"success": false, "error", "code"}``: its SDK raises
``CodivUploadError(message=error, status=<HTTP status>, code=code)`` for every one."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from zakipost.errors import BadRequest, NotFound


class PlatformNotSupported(BadRequest):
    """ZakiPost publishes to TikTok only."""

    code = "platform_not_supported"


class UnsupportedFeature(BadRequest):
    """ZakiPost does not offer this part of CodivUpload's API."""

    code = "not_supported"


class ProfileNotFound(NotFound):
    """No connected TikTok account goes by this profile_name."""

    code = "profile_not_found"


def error_response(
    status: int, code: str, message: str, details: dict[str, Any], headers: dict[str, str] | None
) -> JSONResponse:
    # CodivUpload answers invalid input with 400 ("validation error").
    shown = 400 if status == 422 else status
    body: dict[str, Any] = {"success": False, "error": message, "code": code}
    param = details.get("param") or details.get("field")
    if param:
        body["field"] = str(param)
    return JSONResponse(body, status_code=shown, headers=headers)
