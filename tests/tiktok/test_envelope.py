"""Error mapping: ``error.code`` (whatever the HTTP status) and code-less bodies (§4)."""

from __future__ import annotations

import httpx
import pytest

from tests.tiktok.conftest import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    LOG_ID,
    RecordingTransport,
    api_error,
)
from zakipost.tiktok import (
    AccessTokenInvalid,
    ActiveUserCapReached,
    AppVersionCheckFailed,
    DailyPostCapReached,
    InvalidPublishId,
    PrivacyLevelOptionMismatch,
    PublishNotCancellable,
    PullFromUrlSource,
    ScopeNotAuthorized,
    TikTokApiError,
    TikTokClient,
    TikTokError,
    TikTokRateLimited,
    TikTokRequestError,
    TikTokServerError,
    TikTokTransportError,
    TooManyPendingShares,
    UnauditedClientPrivateOnly,
    UrlOwnershipUnverified,
    UserBannedFromPosting,
)

ERROR_CODES = [
    ("access_token_invalid", 401, AccessTokenInvalid, False),
    ("access_token_expired", 401, AccessTokenInvalid, False),
    ("scope_not_authorized", 401, ScopeNotAuthorized, False),
    ("scope_permission_missed", 400, ScopeNotAuthorized, False),
    ("rate_limit_exceeded", 429, TikTokRateLimited, True),
    ("internal_error", 500, TikTokServerError, True),
    ("invalid_param", 400, TikTokRequestError, False),
    ("invalid_params", 400, TikTokRequestError, False),
    ("invalid_file_upload", 400, TikTokRequestError, False),
    ("app_version_check_failed", 400, AppVersionCheckFailed, False),
    ("invalid_publish_id", 400, InvalidPublishId, False),
    ("token_not_authorized_for_specified_publish_id", 400, InvalidPublishId, False),
    ("publish_not_cancellable", 400, PublishNotCancellable, False),
    ("spam_risk_too_many_posts", 403, DailyPostCapReached, False),
    ("spam_risk_too_many_pending_share", 403, TooManyPendingShares, False),
    ("spam_risk_user_banned_from_posting", 403, UserBannedFromPosting, False),
    ("reached_active_user_cap", 403, ActiveUserCapReached, False),
    ("unaudited_client_can_only_post_to_private_accounts", 403, UnauditedClientPrivateOnly, False),
    ("url_ownership_unverified", 403, UrlOwnershipUnverified, False),
    ("privacy_level_option_mismatch", 403, PrivacyLevelOptionMismatch, False),
    ("a_code_from_the_future", 400, TikTokApiError, False),
]


class TestErrorMapping:
    @pytest.mark.parametrize("as_200", [False, True], ids=["doc-status", "http-200"])
    @pytest.mark.parametrize(("code", "status", "cls", "retryable"), ERROR_CODES)
    async def test_error_code_picks_the_class(
        self,
        client: TikTokClient,
        transport: RecordingTransport,
        code: str,
        status: int,
        cls: type[TikTokError],
        retryable: bool,
        as_200: bool,
    ) -> None:
        http_status = 200 if as_200 else status
        transport.queue(api_error(http_status, code, "The chunk size is invalid"))
        with pytest.raises(cls) as caught:
            await client.init_inbox_video(ACCESS_TOKEN, source=PullFromUrlSource(video_url="u"))
        exc = caught.value
        assert type(exc) is cls
        assert (exc.code, exc.message, exc.log_id) == (code, "The chunk size is invalid", LOG_ID)
        assert (exc.http_status, exc.retryable) == (http_status, retryable)

    @pytest.mark.parametrize(
        ("status", "cls", "retryable"),
        [
            (502, TikTokServerError, True),
            (500, TikTokServerError, True),
            (429, TikTokRateLimited, True),
            (404, TikTokApiError, False),
            (200, TikTokApiError, False),
        ],
    )
    async def test_non_json_bodies(
        self,
        client: TikTokClient,
        transport: RecordingTransport,
        status: int,
        cls: type[TikTokError],
        retryable: bool,
    ) -> None:
        transport.queue(httpx.Response(status, text="<html>Bad Gateway</html>"))
        with pytest.raises(cls) as caught:
            await client.fetch_status(ACCESS_TOKEN, "p")
        assert (caught.value.http_status, caught.value.retryable) == (status, retryable)

    async def test_json_5xx_without_code_is_a_server_error(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(httpx.Response(503, json={"message": "overloaded"}))
        with pytest.raises(TikTokServerError):
            await client.fetch_status(ACCESS_TOKEN, "p")

    async def test_transport_failure(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(httpx.ConnectError("connection refused"))
        with pytest.raises(TikTokTransportError, match="ConnectError") as caught:
            await client.query_creator_info(ACCESS_TOKEN)
        assert caught.value.retryable

    async def test_echoed_secrets_are_redacted(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(api_error(401, "access_token_invalid", f"token {ACCESS_TOKEN} is bad"))
        with pytest.raises(AccessTokenInvalid) as caught:
            await client.query_creator_info(ACCESS_TOKEN)
        text = str(caught.value) + repr(caught.value) + repr(client)
        assert ACCESS_TOKEN not in text
        assert CLIENT_SECRET not in text
