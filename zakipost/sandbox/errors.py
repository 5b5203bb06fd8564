"""TikTok's error codes, their documented HTTP statuses, and the two error shapes.

v2 APIs answer `{"data": {...}, "error": {"code", "message", "log_id"}}` (§4.1); OAuth
endpoints answer flat `{"error", "error_description", "log_id"}` (§2.5).
"""

from __future__ import annotations

from typing import Any

# Documented HTTP status per v2 error code (api-facts.md §4.2, §4.3).
STATUS_BY_CODE: dict[str, int] = {
    "ok": 200,
    "invalid_params": 400,
    "invalid_file_upload": 400,
    "invalid_publish_id": 400,
    "token_not_authorized_for_specified_publish_id": 400,
    "publish_not_cancellable": 400,
    "app_version_check_failed": 400,
    "scope_permission_missed": 400,
    "access_token_invalid": 401,
    "scope_not_authorized": 401,
    "spam_risk_too_many_posts": 403,
    "spam_risk_user_banned_from_posting": 403,
    "spam_risk_too_many_pending_share": 403,
    "reached_active_user_cap": 403,
    "unaudited_client_can_only_post_to_private_accounts": 403,
    "url_ownership_unverified": 403,
    "privacy_level_option_mismatch": 403,
    "rate_limit_exceeded": 429,
    "internal_error": 500,
}

DEFAULT_MESSAGES: dict[str, str] = {
    "access_token_invalid": "The access token is invalid or not found in the request.",
    "scope_not_authorized": "The user did not authorize the scope required for completing this request.",
    "scope_permission_missed": "The request fields require additional scopes.",
    "rate_limit_exceeded": "The API rate limit was exceeded. Please try again later.",
    "internal_error": "Something went wrong. Please try again later.",
    "spam_risk_too_many_posts": "The daily post cap for this creator has been reached.",
    "spam_risk_user_banned_from_posting": "The user is banned from making new posts.",
    "spam_risk_too_many_pending_share": "The user has too many pending shares (at most 5 "
    "pending shares within any 24-hour period).",
    "reached_active_user_cap": "The daily quota of active publishing users of this client "
    "has been reached.",
    "unaudited_client_can_only_post_to_private_accounts": "Please review our integration "
    "guidelines at https://developers.tiktok.com/doc/content-sharing-guidelines/",
    "url_ownership_unverified": "The ownership of the domain or URL prefix is not verified.",
    "privacy_level_option_mismatch": "The privacy_level is missing or not among the "
    "creator's privacy_level_options.",
    "invalid_publish_id": "The publish_id does not exist.",
    "token_not_authorized_for_specified_publish_id": "The access token is not authorized "
    "for the specified publish_id.",
    "publish_not_cancellable": "The publish task can no longer be cancelled.",
    "app_version_check_failed": "The creator's TikTok app version does not support this "
    "feature (requires 31.8 or later).",
}

OAUTH_ERRORS = (
    "access_denied",
    "invalid_client",
    "invalid_grant",
    "invalid_request",
    "invalid_scope",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "server_error",
    "temporarily_unavailable",
)

FAIL_REASONS = (
    "file_format_check_failed",
    "duration_check_failed",
    "frame_rate_check_failed",
    "picture_size_check_failed",
    "internal",
    "video_pull_failed",
    "photo_pull_failed",
    "publish_cancelled",
    "auth_removed",
    "spam_risk_too_many_posts",
    "spam_risk_user_banned_from_posting",
    "spam_risk_text",
    "spam_risk",
)


class ApiError(Exception):
    """A v2 API error: rendered in the `{data, error}` envelope."""

    def __init__(self, code: str, message: str | None = None, *, status: int | None = None) -> None:
        self.code = code
        self.message = message if message is not None else DEFAULT_MESSAGES.get(code, "")
        self.status = status if status is not None else STATUS_BY_CODE.get(code, 400)
        super().__init__(f"{code}: {self.message}")


class InvalidParams(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__("invalid_params", message)


class OAuthError(Exception):
    """An OAuth endpoint error: rendered flat."""

    def __init__(self, error: str, description: str) -> None:
        self.error = error
        self.description = description
        super().__init__(f"{error}: {description}")


def envelope(code: str, message: str, log_id: str, data: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = data
    body["error"] = {"code": code, "message": message, "log_id": log_id}
    return body


def oauth_body(error: str, description: str, log_id: str) -> dict[str, str]:
    return {"error": error, "error_description": description, "log_id": log_id}
