"""The exception tree and the fail_reason table (§4.4)."""

from __future__ import annotations

import pytest

from zakipost import tiktok
from zakipost.tiktok import (
    AccessTokenInvalid,
    ChunkPlanError,
    DailyPostCapReached,
    InvalidGrant,
    InvalidWebhook,
    TikTokAuthError,
    TikTokError,
    TikTokOAuthError,
    TikTokPostingRefused,
    UploadError,
    UploadUrlExpired,
    UserBannedFromPosting,
    VideoTooLarge,
    describe_fail_reason,
    known_fail_reasons,
)

DOCUMENTED_FAIL_REASONS = {
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
}


def exported_errors() -> list[type[Exception]]:
    return [
        obj
        for name in tiktok.__all__
        if isinstance(obj := getattr(tiktok, name), type) and issubclass(obj, Exception)
    ]


class TestExceptionTree:
    def test_every_api_error_derives_from_tiktok_error(self) -> None:
        outside = {ChunkPlanError, VideoTooLarge, InvalidWebhook}
        for cls in exported_errors():
            assert issubclass(cls, TikTokError) != (cls in outside), cls

    def test_every_error_has_a_default_message(self) -> None:
        for cls in exported_errors():
            if issubclass(cls, TikTokError):
                assert cls().message, cls

    def test_subclass_relationships(self) -> None:
        assert issubclass(AccessTokenInvalid, TikTokAuthError)
        assert issubclass(DailyPostCapReached, TikTokPostingRefused)
        assert issubclass(InvalidGrant, TikTokOAuthError)
        assert issubclass(UploadUrlExpired, UploadError)
        assert issubclass(VideoTooLarge, ValueError)

    def test_temporary_refusals(self) -> None:
        assert DailyPostCapReached.temporary
        assert not UserBannedFromPosting.temporary

    def test_str_and_repr_carry_code_and_log_id(self) -> None:
        exc = AccessTokenInvalid(
            "expired", code="access_token_invalid", log_id="L1", http_status=401
        )
        assert str(exc) == "expired (code=access_token_invalid, http_status=401, log_id=L1)"
        assert repr(exc) == (
            "AccessTokenInvalid(code='access_token_invalid', message='expired', "
            "log_id='L1', http_status=401)"
        )
        assert not exc.retryable

    def test_upload_error_carries_progress(self) -> None:
        assert UploadError().progress is None


class TestDescribeFailReason:
    def test_every_documented_reason_is_known(self) -> None:
        assert DOCUMENTED_FAIL_REASONS <= known_fail_reasons()
        for reason in known_fail_reasons():
            info = describe_fail_reason(reason)
            assert info.known
            assert info.reason == reason
            assert info.message.endswith(".")
            assert info.message[0].isupper()
            assert "_" not in info.message, "messages are for people, not codes"

    @pytest.mark.parametrize(
        ("reason", "retryable"),
        [
            ("internal", True),
            ("video_pull_failed", True),
            ("photo_pull_failed", True),
            ("auth_removed", False),
            ("spam_risk_text", False),
            ("spam_risk_user_banned_from_posting", False),
            ("file_format_check_failed", False),
        ],
    )
    def test_retry_guidance(self, reason: str, retryable: bool) -> None:
        assert describe_fail_reason(reason).retryable is retryable

    def test_frame_rate_message(self) -> None:
        info = describe_fail_reason("frame_rate_check_failed")
        assert info.message == "The video's frame rate must be between 23 and 60 fps."

    @pytest.mark.parametrize("reason", ["brand_new_reason", "", None])
    def test_unknown_reasons_never_crash(self, reason: str | None) -> None:
        info = describe_fail_reason(reason)
        assert not info.known
        assert not info.retryable
        assert info.message.startswith("TikTok could not publish the post")
