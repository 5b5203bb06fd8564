"""OAuth v2: authorize URL, PKCE, token exchange, refresh and revoke (api-facts §2)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.tiktok.conftest import (
    ACCESS_TOKEN,
    API,
    CLIENT_KEY,
    CLIENT_SECRET,
    LOG_ID,
    REFRESH_TOKEN,
    RecordingTransport,
)
from zakipost.tiktok import (
    InvalidGrant,
    OAuthServerError,
    TikTokApiError,
    TikTokClient,
    TikTokOAuthError,
    TikTokServerError,
    make_pkce_pair,
)

TOKEN_BODY = {
    "access_token": ACCESS_TOKEN,
    "expires_in": 86400,
    "open_id": "-000bMhnTFeW4SZCPZkPWZppArDnsFgvOa_f",
    "refresh_expires_in": 31536000,
    "refresh_token": REFRESH_TOKEN,
    "scope": "user.info.basic,video.publish",
    "token_type": "Bearer",
}


def oauth_error(error: str, *, status: int = 200, description: str = "nope") -> httpx.Response:
    return httpx.Response(
        status, json={"error": error, "error_description": description, "log_id": LOG_ID}
    )


class TestAuthorizeUrl:
    def test_builds_tiktok_consent_url(self, client: TikTokClient) -> None:
        url = client.authorize_url(
            redirect_uri="https://app.example.com/callback",
            scopes=["user.info.basic", "video.publish"],
            state="st4te",
        )
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.path) == (
            "https",
            "www.tiktok.com",
            "/v2/auth/authorize/",
        )
        assert "scope=user.info.basic,video.publish" in parts.query
        assert parse_qs(parts.query) == {
            "client_key": [CLIENT_KEY],
            "scope": ["user.info.basic,video.publish"],
            "redirect_uri": ["https://app.example.com/callback"],
            "state": ["st4te"],
            "response_type": ["code"],
            "disable_auto_auth": ["1"],
        }

    def test_adds_pkce_challenge_and_auto_auth(self, client: TikTokClient) -> None:
        url = client.authorize_url(
            redirect_uri="https://app.example.com/cb",
            scopes=("user.info.basic",),
            state="s",
            code_challenge="abc123",
            disable_auto_auth=False,
        )
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge"] == ["abc123"]
        assert query["code_challenge_method"] == ["S256"]
        assert query["disable_auto_auth"] == ["0"]

    def test_uses_the_configured_auth_host(self, http: httpx.AsyncClient) -> None:
        client = TikTokClient(
            http, client_key="k", client_secret="s", auth_base_url="http://sandbox.local/"
        )
        url = client.authorize_url(redirect_uri="https://x/cb", scopes=["a"], state="s")
        assert url.startswith("http://sandbox.local/v2/auth/authorize/?")

    @pytest.mark.parametrize("scopes", [[], "user.info.basic"])
    def test_rejects_empty_or_string_scopes(self, client: TikTokClient, scopes: list[str]) -> None:
        with pytest.raises(ValueError, match="scopes"):
            client.authorize_url(redirect_uri="https://x/cb", scopes=scopes, state="s")


class TestPkce:
    def test_challenge_is_hex_sha256_of_the_verifier(self) -> None:
        verifier, challenge = make_pkce_pair()
        assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
        assert challenge == hashlib.sha256(verifier.encode()).hexdigest()
        assert re.fullmatch(r"[0-9a-f]{64}", challenge)

    def test_pairs_are_random(self) -> None:
        assert make_pkce_pair() != TikTokClient.make_pkce_pair()


class TestExchangeCode:
    async def test_posts_form_and_parses_grant(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(httpx.Response(200, json=TOKEN_BODY))
        grant = await client.exchange_code(
            code="abc*0!6410", redirect_uri="https://app.example.com/cb", code_verifier="v" * 43
        )
        sent = transport.last
        assert (sent.request.method, str(sent.request.url)) == ("POST", f"{API}/v2/oauth/token/")
        assert sent.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert "Authorization" not in sent.request.headers
        assert sent.form() == {
            "client_key": CLIENT_KEY,
            "client_secret": CLIENT_SECRET,
            "code": "abc*0!6410",
            "grant_type": "authorization_code",
            "redirect_uri": "https://app.example.com/cb",
            "code_verifier": "v" * 43,
        }
        assert grant.access_token == ACCESS_TOKEN
        assert grant.refresh_token == REFRESH_TOKEN
        assert grant.open_id == TOKEN_BODY["open_id"]
        assert grant.scopes == ["user.info.basic", "video.publish"]
        assert grant.has_scopes("video.publish")
        assert not grant.has_scopes("video.upload")

    async def test_omits_code_verifier_when_not_given(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(httpx.Response(200, json=TOKEN_BODY))
        await client.exchange_code(code="c", redirect_uri="https://x/cb")
        assert "code_verifier" not in transport.last.form()

    async def test_expiry_helpers(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(httpx.Response(200, json=TOKEN_BODY))
        grant = await client.exchange_code(code="c", redirect_uri="https://x/cb")
        now = datetime(2026, 1, 1, tzinfo=UTC)
        assert grant.access_token_expires_at(now) == now + timedelta(days=1)
        assert grant.refresh_token_expires_at(now) == now + timedelta(days=365)

    async def test_accepts_legacy_wrapped_success(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(httpx.Response(200, json={"data": TOKEN_BODY, "message": "success"}))
        grant = await client.exchange_code(code="c", redirect_uri="https://x/cb")
        assert grant.access_token == ACCESS_TOKEN

    async def test_malformed_success_names_fields_without_tokens(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        body = {k: v for k, v in TOKEN_BODY.items() if k != "open_id"}
        transport.queue(httpx.Response(200, json=body))
        with pytest.raises(TikTokApiError, match="open_id") as caught:
            await client.exchange_code(code="c", redirect_uri="https://x/cb")
        assert ACCESS_TOKEN not in str(caught.value) + repr(caught.value)
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__


class TestRefresh:
    async def test_posts_refresh_grant_and_returns_rotated_token(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(httpx.Response(200, json={**TOKEN_BODY, "refresh_token": "rft.new"}))
        grant = await client.refresh(REFRESH_TOKEN)
        assert str(transport.last.request.url) == f"{API}/v2/oauth/token/"
        assert transport.last.form() == {
            "client_key": CLIENT_KEY,
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": REFRESH_TOKEN,
        }
        assert grant.refresh_token == "rft.new"


class TestRevoke:
    async def test_posts_the_access_token_and_accepts_an_empty_body(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(httpx.Response(200, content=b""))
        assert await client.revoke(ACCESS_TOKEN) is None
        assert str(transport.last.request.url) == f"{API}/v2/oauth/revoke/"
        assert transport.last.form() == {
            "client_key": CLIENT_KEY,
            "client_secret": CLIENT_SECRET,
            "token": ACCESS_TOKEN,
        }


class TestOAuthErrors:
    @pytest.mark.parametrize("status", [200, 400])
    @pytest.mark.parametrize(
        ("error", "cls", "retryable"),
        [
            ("invalid_grant", InvalidGrant, False),
            ("server_error", OAuthServerError, True),
            ("temporarily_unavailable", OAuthServerError, True),
            ("invalid_request", TikTokOAuthError, False),
            ("invalid_client", TikTokOAuthError, False),
            ("brand_new_category", TikTokOAuthError, False),
        ],
    )
    async def test_flat_errors_raise_whatever_the_status(
        self,
        client: TikTokClient,
        transport: RecordingTransport,
        status: int,
        error: str,
        cls: type[TikTokOAuthError],
        retryable: bool,
    ) -> None:
        transport.queue(oauth_error(error, status=status, description="Code is expired."))
        with pytest.raises(cls) as caught:
            await client.refresh(REFRESH_TOKEN)
        exc = caught.value
        assert type(exc) is cls
        assert (exc.error, exc.code, exc.error_description) == (error, error, "Code is expired.")
        assert (exc.log_id, exc.http_status, exc.retryable) == (LOG_ID, status, retryable)

    async def test_invalid_grant_on_exchange(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(oauth_error("invalid_grant"))
        with pytest.raises(InvalidGrant):
            await client.exchange_code(code="used", redirect_uri="https://x/cb")

    async def test_error_on_revoke(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(oauth_error("invalid_request"))
        with pytest.raises(TikTokOAuthError):
            await client.revoke(ACCESS_TOKEN)

    async def test_non_json_502_is_a_retryable_server_error(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(httpx.Response(502, text="<html>Bad Gateway</html>"))
        with pytest.raises(TikTokServerError) as caught:
            await client.refresh(REFRESH_TOKEN)
        assert caught.value.retryable
        assert caught.value.http_status == 502

    async def test_secrets_echoed_by_tiktok_are_redacted(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(
            oauth_error("invalid_grant", description=f"bad {REFRESH_TOKEN} for {CLIENT_SECRET}")
        )
        with pytest.raises(InvalidGrant) as caught:
            await client.refresh(REFRESH_TOKEN)
        text = str(caught.value) + repr(caught.value)
        assert REFRESH_TOKEN not in text
        assert CLIENT_SECRET not in text
        assert "[redacted]" in text
