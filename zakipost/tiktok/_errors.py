"""Exceptions raised by the TikTok client, and the one table that maps TikTok's codes to them.

Every error TikTok can return is a subclass of ``TikTokError``. Classes marked ``*`` are
``retryable``: sending the same request again later can succeed. For calls that create
something (the init endpoints) a retryable error does not prove the first request had no
effect; the caller decides whether re-sending is safe.

    TikTokError                        code, message, log_id, http_status, retryable
    ├── TikTokTransportError         * no response at all (DNS, connect, read timeout);
    │                                    ``reached_tiktok``: whether it may have been handled
    ├── TikTokServerError            * internal_error, any 5xx without a known code
    ├── TikTokRateLimited            * rate_limit_exceeded
    ├── TikTokAuthError
    │   ├── AccessTokenInvalid         access_token_invalid, access_token_expired
    │   └── ScopeNotAuthorized         scope_not_authorized, scope_permission_missed
    ├── TikTokRequestError             invalid_param, invalid_params, invalid_file_upload
    │   ├── AppVersionCheckFailed      app_version_check_failed
    │   ├── InvalidPublishId           invalid_publish_id, token_not_authorized_for_specified_publish_id
    │   └── PublishNotCancellable      publish_not_cancellable
    ├── TikTokPostingRefused           the creator cannot post right now (``temporary`` says why)
    │   ├── DailyPostCapReached        spam_risk_too_many_posts
    │   ├── TooManyPendingShares       spam_risk_too_many_pending_share
    │   ├── UserBannedFromPosting      spam_risk_user_banned_from_posting
    │   ├── ActiveUserCapReached       reached_active_user_cap
    │   ├── UnauditedClientPrivateOnly unaudited_client_can_only_post_to_private_accounts
    │   ├── UrlOwnershipUnverified     url_ownership_unverified
    │   └── PrivacyLevelOptionMismatch privacy_level_option_mismatch
    ├── TikTokOAuthError               flat {error, error_description} from /v2/oauth/*
    │   ├── InvalidGrant               invalid_grant: the user must consent again
    │   └── OAuthServerError         * server_error, temporarily_unavailable
    ├── TikTokApiError                 a code this library does not know, or an unreadable body
    └── UploadError                    PUT to upload_url; carries ``progress``
        ├── UploadUrlExpired           403: the one-hour upload_url is no longer valid
        ├── UploadTaskNotFound         404
        ├── UploadRangeMismatch        416 whose progress header cannot be reconciled
        └── UploadInterrupted        * 5xx or transport errors outlasted the retry budget

    ChunkPlanError (ValueError)        a chunk plan breaks TikTok's chunk rules
    └── VideoTooLarge                  the file is over 4 GB
    InvalidWebhook (ValueError)        a webhook body that cannot be parsed
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zakipost.tiktok._models import UploadProgress


class TikTokError(Exception):
    """TikTok refused the request or could not be reached."""

    retryable: bool = False

    def __init__(
        self,
        message: str = "",
        *,
        code: str = "",
        log_id: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.message = message or (type(self).__doc__ or "").strip().splitlines()[0]
        self.code = code
        self.log_id = log_id
        self.http_status = http_status
        super().__init__(self.message)

    def __str__(self) -> str:
        details = [f"code={self.code}"] if self.code else []
        if self.http_status is not None:
            details.append(f"http_status={self.http_status}")
        if self.log_id:
            details.append(f"log_id={self.log_id}")
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"log_id={self.log_id!r}, http_status={self.http_status!r})"
        )


class TikTokTransportError(TikTokError):
    """The request to TikTok failed before a response arrived."""

    retryable = True

    def __init__(
        self,
        message: str = "",
        *,
        code: str = "",
        log_id: str | None = None,
        http_status: int | None = None,
        reached_tiktok: bool = True,
    ) -> None:
        super().__init__(message, code=code, log_id=log_id, http_status=http_status)
        # False only when the request surely never left (no connection was made): otherwise
        # TikTok may have handled it and only its answer was lost.
        self.reached_tiktok = reached_tiktok


class TikTokServerError(TikTokError):
    """TikTok had an internal error; the same request may succeed later."""

    retryable = True


class TikTokRateLimited(TikTokError):
    """TikTok's rate limit for this endpoint and token was exceeded."""

    retryable = True


class TikTokAuthError(TikTokError):
    """The access token cannot be used for this request."""


class AccessTokenInvalid(TikTokAuthError):
    """The access token is invalid, expired or revoked: refresh it and try again."""


class ScopeNotAuthorized(TikTokAuthError):
    """The user did not grant a scope this request needs."""


class TikTokRequestError(TikTokError):
    """TikTok rejected a parameter of the request."""


class AppVersionCheckFailed(TikTokRequestError):
    """The creator's TikTok app is too old for this kind of post."""


class InvalidPublishId(TikTokRequestError):
    """The publish_id is unknown or belongs to another user."""


class PublishNotCancellable(TikTokRequestError):
    """The post is already past the point where it can be cancelled."""


class TikTokPostingRefused(TikTokError):
    """TikTok will not accept a post from this creator right now."""

    # True when the refusal lifts on its own after a while (a rolling 24 h quota).
    temporary: bool = False


class DailyPostCapReached(TikTokPostingRefused):
    """The creator reached TikTok's daily limit of posts made through apps."""

    temporary = True


class TooManyPendingShares(TikTokPostingRefused):
    """The creator has too many drafts waiting in the TikTok inbox (at most 5 per 24 h)."""

    temporary = True


class UserBannedFromPosting(TikTokPostingRefused):
    """TikTok has banned this creator from posting."""


class ActiveUserCapReached(TikTokPostingRefused):
    """This app reached its daily quota of creators who may post."""

    temporary = True


class UnauditedClientPrivateOnly(TikTokPostingRefused):
    """This app is not audited yet, so it may only post to private accounts."""


class UrlOwnershipUnverified(TikTokPostingRefused):
    """The media URL is not under a domain or URL prefix verified for this app."""


class PrivacyLevelOptionMismatch(TikTokPostingRefused):
    """The privacy level is missing or not one of the creator's options."""


class TikTokOAuthError(TikTokError):
    """TikTok's OAuth endpoint returned an error."""

    @property
    def error(self) -> str:
        """The OAuth error category, e.g. ``invalid_request``."""
        return self.code

    @property
    def error_description(self) -> str:
        """TikTok's description of the error."""
        return self.message


class InvalidGrant(TikTokOAuthError):
    """The code or refresh token is no longer valid: the user must connect again."""


class OAuthServerError(TikTokOAuthError):
    """TikTok's OAuth service is temporarily unavailable."""

    retryable = True


class TikTokApiError(TikTokError):
    """TikTok returned an error this library does not recognise."""


class UploadError(TikTokError):
    """Uploading the file to TikTok's upload_url failed."""

    def __init__(
        self,
        message: str = "",
        *,
        code: str = "",
        log_id: str | None = None,
        http_status: int | None = None,
        progress: UploadProgress | None = None,
    ) -> None:
        super().__init__(message, code=code, log_id=log_id, http_status=http_status)
        self.progress = progress


class UploadUrlExpired(UploadError):
    """The upload_url expired (it is valid for one hour): start a new upload."""


class UploadTaskNotFound(UploadError):
    """TikTok has no upload task for this upload_url."""


class UploadRangeMismatch(UploadError):
    """TikTok's upload progress does not match any chunk boundary of the plan."""


class UploadInterrupted(UploadError):
    """The upload stopped after repeated server or network errors; it can be resumed."""

    retryable = True


class ChunkPlanError(ValueError):
    """A chunk plan that TikTok's chunk rules do not allow."""


class VideoTooLarge(ChunkPlanError):
    """The video is larger than TikTok's 4 GB limit."""


class InvalidWebhook(ValueError):
    """A webhook body that is not a TikTok webhook event."""


_CODE_TO_ERROR: dict[str, type[TikTokError]] = {
    "access_token_invalid": AccessTokenInvalid,
    "access_token_expired": AccessTokenInvalid,
    "scope_not_authorized": ScopeNotAuthorized,
    "scope_permission_missed": ScopeNotAuthorized,
    "rate_limit_exceeded": TikTokRateLimited,
    "internal_error": TikTokServerError,
    "invalid_param": TikTokRequestError,
    "invalid_params": TikTokRequestError,
    "invalid_file_upload": TikTokRequestError,
    "app_version_check_failed": AppVersionCheckFailed,
    "invalid_publish_id": InvalidPublishId,
    "token_not_authorized_for_specified_publish_id": InvalidPublishId,
    "publish_not_cancellable": PublishNotCancellable,
    "spam_risk_too_many_posts": DailyPostCapReached,
    "spam_risk_too_many_pending_share": TooManyPendingShares,
    "spam_risk_user_banned_from_posting": UserBannedFromPosting,
    "reached_active_user_cap": ActiveUserCapReached,
    "unaudited_client_can_only_post_to_private_accounts": UnauditedClientPrivateOnly,
    "url_ownership_unverified": UrlOwnershipUnverified,
    "privacy_level_option_mismatch": PrivacyLevelOptionMismatch,
}

_OAUTH_ERROR_TO_ERROR: dict[str, type[TikTokOAuthError]] = {
    "invalid_grant": InvalidGrant,
    "server_error": OAuthServerError,
    "temporarily_unavailable": OAuthServerError,
}


def error_for_code(
    code: str, message: str, *, log_id: str | None, http_status: int | None
) -> TikTokError:
    """Build the exception for a v2 API ``error.code`` (unknown codes get ``TikTokApiError``)."""
    cls = _CODE_TO_ERROR.get(code, TikTokApiError)
    return cls(message, code=code, log_id=log_id, http_status=http_status)


def error_for_oauth(
    error: str, description: str, *, log_id: str | None, http_status: int | None
) -> TikTokOAuthError:
    """Build the exception for an OAuth ``error`` category."""
    cls = _OAUTH_ERROR_TO_ERROR.get(error, TikTokOAuthError)
    return cls(description, code=error, log_id=log_id, http_status=http_status)


def error_for_status(http_status: int, message: str) -> TikTokError:
    """Build the exception for a response that carries no TikTok code at all."""
    if http_status >= 500:
        return TikTokServerError(message, code=f"http_{http_status}", http_status=http_status)
    if http_status == 429:
        return TikTokRateLimited(message, code="rate_limit_exceeded", http_status=http_status)
    return TikTokApiError(message, code="unexpected_response", http_status=http_status)


@dataclass(frozen=True, slots=True)
class FailReasonInfo:
    """What a ``fail_reason`` means, written for the person whose post failed."""

    reason: str
    message: str
    # True when publishing the same media again, unchanged, can succeed.
    retryable: bool
    known: bool = True


_FAIL_REASONS: dict[str, tuple[str, bool]] = {
    "file_format_check_failed": (
        (
            "TikTok does not support this file's format. Videos must be MP4, MOV or WebM "
            "(H.264, H.265, VP8 or VP9); photos must be JPEG or WebP."
        ),
        False,
    ),
    "duration_check_failed": (
        "The video is longer (or shorter) than this TikTok account is allowed to post.",
        False,
    ),
    "frame_rate_check_failed": ("The video's frame rate must be between 23 and 60 fps.", False),
    "picture_size_check_failed": (
        (
            "The picture size is not supported. Videos must be 360 to 4096 pixels wide and high; "
            "photos can be at most 1080p."
        ),
        False,
    ),
    "video_bitrate_check_failed": (
        "TikTok does not accept the video's bitrate. Re-encode the video and try again.",
        False,
    ),
    "internal": ("TikTok had a temporary problem. Trying again should work.", True),
    "video_pull_failed": (
        (
            "TikTok could not download the video, or the download took longer than an hour. "
            "Check that the link works and try again."
        ),
        True,
    ),
    "photo_pull_failed": (
        (
            "TikTok could not download the photos, or the download took longer than an hour. "
            "Check that the links work and try again."
        ),
        True,
    ),
    "publish_cancelled": ("The post was cancelled before TikTok finished receiving it.", False),
    "auth_removed": (
        (
            "The TikTok account disconnected this app while the post was being published. "
            "Reconnect the account to post again."
        ),
        False,
    ),
    "spam_risk_too_many_posts": (
        (
            "This TikTok account has reached its daily limit of posts made through apps. "
            "Try again tomorrow, or post from the TikTok app."
        ),
        False,
    ),
    "spam_risk_user_banned_from_posting": ("TikTok has blocked this account from posting.", False),
    "spam_risk_text": (
        "TikTok flagged the caption as spam. Change the caption before posting again.",
        False,
    ),
    "spam_risk": ("TikTok flagged this post as spam and refused it.", False),
}


def describe_fail_reason(reason: str | None) -> FailReasonInfo:
    """Explain a ``fail_reason`` from status fetch or a webhook; unknown values never raise."""
    if reason and reason in _FAIL_REASONS:
        message, retryable = _FAIL_REASONS[reason]
        return FailReasonInfo(reason=reason, message=message, retryable=retryable)
    detail = f" (reason: {reason})" if reason else ""
    return FailReasonInfo(
        reason=reason or "",
        message=f"TikTok could not publish the post{detail}.",
        retryable=False,
        known=False,
    )


def known_fail_reasons() -> frozenset[str]:
    """Every ``fail_reason`` value this library has a message for."""
    return frozenset(_FAIL_REASONS)


_OWN_CODES = frozenset({"transport_error", "unexpected_response", "range_mismatch"})
_HTTP_CODE = re.compile(r"http_[1-5][0-9]{2}")


def outcome_label(exc: TikTokError) -> str:
    """A bounded name for how a call failed, for metrics: TikTok's code when this module
    knows it, ``other_error`` for a code it does not (TikTok may add codes at any time)."""
    code = exc.code
    known = code in _CODE_TO_ERROR or code in _OAUTH_ERROR_TO_ERROR or code in _OWN_CODES
    return code if known or _HTTP_CODE.fullmatch(code) else "other_error"
