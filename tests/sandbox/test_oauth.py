"""OAuth v2: consent page, token exchange, refresh, revoke and the flat error shape (§2)."""

from __future__ import annotations

import hashlib
import re

import pytest

from zakipost.sandbox import ManualClock, OAuthError, Sandbox, SandboxConfig

from .driver import Driver, callback_query, error_of, form_fields

AUTHORIZE = "/v2/auth/authorize/"
TOKEN = "/v2/oauth/token/"
REVOKE = "/v2/oauth/revoke/"
VERIFIER = "v" * 43 + "-._~abcXYZ0123456789"


def authorize_params(tt: Driver, **overrides: str) -> dict[str, str]:
    params = {
        "client_key": tt.config.client_key,
        "scope": "user.info.basic,video.publish",
        "redirect_uri": tt.config.redirect_uris[0],
        "state": "st-123",
        "response_type": "code",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v != ""}


def assert_oauth_error(response, error: str, status: int = 200) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description", "log_id"}
    assert body["error"] == error, body
    return body


class TestAuthorizePage:
    async def test_renders_consent_form(self, tt: Driver) -> None:
        page = await tt.http.get(AUTHORIZE, params=authorize_params(tt, disable_auto_auth="1"))
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<form method="post"' in page.text
        assert 'name="decision" value="approve"' in page.text
        assert 'name="decision" value="deny"' in page.text
        assert "user.info.basic" in page.text
        assert "video.publish" in page.text
        action, fields = form_fields(page.text)
        assert action.startswith(str(tt.http.base_url).rstrip("/") + AUTHORIZE)
        creators = await tt.creators()
        # The first creator offered is the default choice: an ordinary public account.
        assert fields["creator"] == [creators["sandbox.creator"]["open_id"]]
        assert fields["granted_scope"] == ["video.publish"]

    async def test_lists_every_creator(self, tt: Driver) -> None:
        page = await tt.http.get(AUTHORIZE, params=authorize_params(tt))
        for creator in (await tt.creators()).values():
            assert f'value="{creator["open_id"]}"' in page.text

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"client_key": "awnotregistered1"}, "client_key"),
            ({"client_key": ""}, "client_key"),
            ({"redirect_uri": "https://evil.example/cb"}, "redirect_uri"),
            ({"redirect_uri": "http://127.0.0.1:8000/connect/tiktok/callback/"}, "redirect_uri"),
            ({"redirect_uri": ""}, "redirect_uri"),
        ],
    )
    async def test_unredirectable_errors_show_a_page(self, tt: Driver, overrides, field) -> None:
        page = await tt.http.get(AUTHORIZE, params=authorize_params(tt, **overrides))
        assert page.status_code == 400
        assert "couldn't log in with TikTok" in page.text
        assert f"<code>{field}</code>" in page.text

    @pytest.mark.parametrize(
        ("overrides", "error"),
        [
            ({"response_type": "token"}, "unsupported_response_type"),
            ({"scope": "user.info.basic,video.delete"}, "invalid_scope"),
            ({"scope": "user.info.basic video.publish"}, "invalid_scope"),
            ({"scope": "user.info.basic, video.publish"}, "invalid_scope"),
            ({"scope": ""}, "invalid_scope"),
            ({"state": ""}, "invalid_request"),
            ({"code_challenge": "a" * 64, "code_challenge_method": "plain"}, "invalid_request"),
            # base64url (RFC 7636) challenges are refused: TikTok wants hex SHA-256.
            (
                {
                    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                    "code_challenge_method": "S256",
                },
                "invalid_request",
            ),
        ],
    )
    async def test_redirectable_errors_go_back(self, tt: Driver, overrides, error) -> None:
        answer = await tt.http.get(AUTHORIZE, params=authorize_params(tt, **overrides))
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(tt.config.redirect_uris[0] + "?")
        query = callback_query(location)
        assert query["error"] == error
        assert query["error_description"]
        if "state" not in overrides:
            assert query["state"] == "st-123"


class TestConsentDecision:
    async def test_approve_redirects_with_code_scopes_state(self, tt: Driver) -> None:
        query = await tt.consent("user.info.basic,video.publish,video.upload")
        assert set(query) == {"code", "scopes", "state"}
        assert query["state"] == "st-123"
        assert query["scopes"] == "user.info.basic,video.publish,video.upload"
        # Codes carry characters that must be URL-decoded, like TikTok's.
        assert "*" in query["code"]
        assert "!" in query["code"]

    async def test_location_is_percent_encoded(self, tt: Driver) -> None:
        page = await tt.http.get(AUTHORIZE, params=authorize_params(tt))
        action, fields = form_fields(page.text)
        answer = await tt.http.post(action, data={**fields, "decision": "approve"})
        assert answer.status_code == 302
        assert "%2A" in answer.headers["location"]
        assert "%21" in answer.headers["location"]

    async def test_deny(self, tt: Driver) -> None:
        query = await tt.consent(decision="deny")
        assert query["error"] == "access_denied"
        assert query["error_description"]
        assert query["state"] == "st-123"
        assert "code" not in query

    async def test_minimal_post_grants_everything_to_first_creator(self, tt: Driver) -> None:
        params = authorize_params(tt, scope="user.info.basic,video.upload")
        answer = await tt.http.post(AUTHORIZE, params=params, data={"decision": "approve"})
        query = callback_query(answer.headers["location"])
        assert query["scopes"] == "user.info.basic,video.upload"
        token = (await tt.exchange(query["code"])).json()
        assert token["open_id"] == (await tt.creators())["sandbox.creator"]["open_id"]

    async def test_choose_another_creator(self, tt: Driver) -> None:
        private = (await tt.creators())["private.creator"]
        page = await tt.http.get(AUTHORIZE, params=authorize_params(tt))
        action, fields = form_fields(page.text)
        fields.update(creator=private["open_id"], decision="approve")
        query = callback_query((await tt.http.post(action, data=fields)).headers["location"])
        assert (await tt.exchange(query["code"])).json()["open_id"] == private["open_id"]

    async def test_user_can_untick_toggleable_scopes(self, tt: Driver) -> None:
        page = await tt.http.get(
            AUTHORIZE,
            params=authorize_params(tt, scope="user.info.basic,video.publish,video.upload"),
        )
        action, fields = form_fields(page.text)
        fields.update(granted_scope=["video.upload"], decision="approve")
        query = callback_query((await tt.http.post(action, data=fields)).headers["location"])
        assert query["scopes"] == "user.info.basic,video.upload"
        token = (await tt.exchange(query["code"])).json()
        assert token["scope"] == "user.info.basic,video.upload"


class TestTokenExchange:
    async def test_flat_success_shape(self, tt: Driver) -> None:
        query = await tt.consent("user.info.basic,video.publish")
        response = await tt.exchange(query["code"])
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {
            "access_token",
            "expires_in",
            "open_id",
            "refresh_expires_in",
            "refresh_token",
            "scope",
            "token_type",
        }
        assert body["access_token"].startswith("act.")
        assert body["refresh_token"].startswith("rft.")
        assert not body["access_token"].isalnum()
        # §2.0: 2-hour access tokens, 180-day refresh tokens.
        assert body["expires_in"] == 7200
        assert body["refresh_expires_in"] == 15552000
        assert body["token_type"] == "Bearer"
        assert body["scope"] == "user.info.basic,video.publish"
        assert re.fullmatch(r"-000[A-Za-z0-9_-]{32}", body["open_id"])

    async def test_code_is_single_use(self, tt: Driver) -> None:
        code = (await tt.consent())["code"]
        assert (await tt.exchange(code)).status_code == 200
        assert_oauth_error(await tt.exchange(code), "invalid_grant")

    async def test_code_expires(self, tt: Driver) -> None:
        code = (await tt.consent())["code"]
        await tt.advance_clock(601)
        assert_oauth_error(await tt.exchange(code), "invalid_grant")

    async def test_unknown_code(self, tt: Driver) -> None:
        assert_oauth_error(await tt.exchange("not-a-code*0!1234"), "invalid_grant")

    async def test_redirect_uri_must_match(self, tt: Driver) -> None:
        code = (await tt.consent())["code"]
        body = assert_oauth_error(
            await tt.exchange(code, redirect_uri=tt.config.redirect_uris[1]), "invalid_request"
        )
        assert (
            body["error_description"]
            == "Redirect_uri is not matched with the uri when requesting code."
        )

    @pytest.mark.parametrize(
        ("overrides", "error", "description"),
        [
            ({"client_secret": ""}, "invalid_request", "Client secret is missed in request."),
            ({"client_secret": "wrong"}, "invalid_client", None),
            ({"client_key": "awnotregistered1"}, "invalid_client", None),
            ({"grant_type": ""}, "invalid_request", None),
            ({"grant_type": "password"}, "unsupported_grant_type", None),
            ({"grant_type": "client_credentials"}, "unauthorized_client", None),
            ({"code": ""}, "invalid_request", None),
        ],
    )
    async def test_request_errors(self, tt: Driver, overrides, error, description) -> None:
        overrides = dict(overrides)
        code = overrides.pop("code", None)
        if code is None:
            code = (await tt.consent())["code"]
        body = assert_oauth_error(await tt.exchange(code, **overrides), error)
        if description:
            assert body["error_description"] == description

    async def test_json_body_is_malformed(self, tt: Driver) -> None:
        code = (await tt.consent())["code"]
        response = await tt.http.post(
            TOKEN,
            json={
                "client_key": tt.config.client_key,
                "client_secret": tt.config.client_secret,
                "code": code,
                "grant_type": "authorization_code",
                "redirect_uri": tt.config.redirect_uris[0],
            },
        )
        assert assert_oauth_error(response, "invalid_request")["error_description"] == (
            "The request parameters are malformed."
        )

    async def test_error_status_is_configurable(self, tt: Driver) -> None:
        await tt.configure(oauth_error_status=400)
        assert_oauth_error(await tt.exchange("nope"), "invalid_grant", status=400)


class TestPkce:
    async def test_hex_sha256_challenge_verified(self, tt: Driver) -> None:
        challenge = hashlib.sha256(VERIFIER.encode()).hexdigest()
        query = await tt.consent(code_challenge=challenge, code_challenge_method="S256")
        assert (await tt.exchange(query["code"], code_verifier=VERIFIER)).status_code == 200

    @pytest.mark.parametrize("verifier", ["", "short", "w" * 43, VERIFIER + "!"])
    async def test_wrong_or_missing_verifier(self, tt: Driver, verifier: str) -> None:
        challenge = hashlib.sha256(VERIFIER.encode()).hexdigest()
        query = await tt.consent(code_challenge=challenge, code_challenge_method="S256")
        extra = {"code_verifier": verifier} if verifier else {}
        body = assert_oauth_error(await tt.exchange(query["code"], **extra), "invalid_request")
        assert body["error_description"] == "Code verifier or code challenge is invalid."

    async def test_verifier_without_challenge_is_ignored(self, tt: Driver) -> None:
        query = await tt.consent()
        assert (await tt.exchange(query["code"], code_verifier=VERIFIER)).status_code == 200


def refresh_form(tt: Driver, refresh_token: str) -> dict[str, str]:
    return {
        "client_key": tt.config.client_key,
        "client_secret": tt.config.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }


class TestRefresh:
    async def test_rotates_and_invalidates_previous(self, tt: Driver) -> None:
        first = await tt.token()
        await tt.advance_clock(7200)
        second = (await tt.http.post(TOKEN, data=refresh_form(tt, first["refresh_token"]))).json()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        assert second["open_id"] == first["open_id"]
        assert second["expires_in"] == 7200
        # Counts down from the original consent: refreshing never extends the 180 days.
        assert second["refresh_expires_in"] == 15552000 - 7200
        # The previous refresh token died the moment the new one was issued.
        replay = await tt.http.post(TOKEN, data=refresh_form(tt, first["refresh_token"]))
        assert_oauth_error(replay, "invalid_grant")
        await tt.advance_clock(3600)
        third = await tt.http.post(TOKEN, data=refresh_form(tt, second["refresh_token"]))
        assert third.status_code == 200
        assert third.json()["refresh_expires_in"] == 15552000 - 7200 - 3600
        assert_oauth_error(
            await tt.http.post(TOKEN, data=refresh_form(tt, second["refresh_token"])),
            "invalid_grant",
        )

    async def test_rotation_can_be_switched_off(self, tt: Driver) -> None:
        await tt.configure(refresh_token_rotation=False)
        first = await tt.token()
        again = (await tt.http.post(TOKEN, data=refresh_form(tt, first["refresh_token"]))).json()
        assert again["refresh_token"] == first["refresh_token"]
        assert (
            await tt.http.post(TOKEN, data=refresh_form(tt, first["refresh_token"]))
        ).status_code == 200

    async def test_180_day_hard_cap(self, tt: Driver) -> None:
        first = await tt.token()
        await tt.advance_clock(15552000)
        assert_oauth_error(
            await tt.http.post(TOKEN, data=refresh_form(tt, first["refresh_token"])),
            "invalid_grant",
        )

    async def test_refreshing_never_resets_the_180_days(self, tt: Driver) -> None:
        token = await tt.token()
        for _ in range(3):
            await tt.advance_clock(5184000)  # 60 days, well past each access token
            response = await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"]))
            if token["refresh_expires_in"] <= 5184000:
                assert_oauth_error(response, "invalid_grant")
                break
            token = response.json()
            assert token["expires_in"] == 7200
        else:
            raise AssertionError("the third refresh, 180 days after consent, was accepted")
        assert token["refresh_expires_in"] == 15552000 - 2 * 5184000

    async def test_lifetimes_are_settings(self, tt: Driver) -> None:
        await tt.configure(access_token_ttl_seconds=90, refresh_token_ttl_seconds=600)
        token = await tt.token()
        assert (token["expires_in"], token["refresh_expires_in"]) == (90, 600)
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        await tt.advance_clock(90)
        response = await tt.api("/v2/post/publish/creator_info/query/", headers)
        assert error_of(response) == (401, "access_token_invalid")
        refreshed = await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"]))
        assert refreshed.json()["refresh_expires_in"] == 510
        await tt.advance_clock(510)
        assert_oauth_error(
            await tt.http.post(TOKEN, data=refresh_form(tt, refreshed.json()["refresh_token"])),
            "invalid_grant",
        )

    async def test_old_access_token_can_survive_refresh(self, tt: Driver) -> None:
        await tt.configure(revoke_access_token_on_refresh=False)
        first = await tt.token()
        await tt.http.post(TOKEN, data=refresh_form(tt, first["refresh_token"]))
        headers = {"Authorization": f"Bearer {first['access_token']}"}
        response = await tt.api("/v2/post/publish/creator_info/query/", headers)
        assert response.status_code == 200

    async def test_refresh_revokes_old_access_token_by_default(self, tt: Driver) -> None:
        # Nothing observed either way: the strict reading, use the newest token only.
        first = await tt.token()
        second = await tt.http.post(TOKEN, data=refresh_form(tt, first["refresh_token"]))
        headers = {"Authorization": f"Bearer {first['access_token']}"}
        response = await tt.api("/v2/post/publish/creator_info/query/", headers)
        assert error_of(response) == (401, "access_token_invalid")
        headers = {"Authorization": f"Bearer {second.json()['access_token']}"}
        assert (await tt.api("/v2/post/publish/creator_info/query/", headers)).status_code == 200

    async def test_unknown_refresh_token(self, tt: Driver) -> None:
        assert_oauth_error(
            await tt.http.post(TOKEN, data=refresh_form(tt, "rft.nope")), "invalid_grant"
        )


class TestAccessToken:
    async def test_expires_after_two_hours(self, tt: Driver) -> None:
        headers = await tt.auth()
        await tt.advance_clock(7199)
        assert (await tt.api("/v2/post/publish/creator_info/query/", headers)).status_code == 200
        await tt.advance_clock(1)
        response = await tt.api("/v2/post/publish/creator_info/query/", headers)
        assert error_of(response) == (401, "access_token_invalid")
        assert response.json()["error"]["message"] == (
            "The access token is invalid or not found in the request."
        )
        assert response.json()["data"] == {}


class TestRevoke:
    async def test_revoke_kills_the_consent(self, tt: Driver) -> None:
        token = await tt.token()
        form = {
            "client_key": tt.config.client_key,
            "client_secret": tt.config.client_secret,
            "token": token["access_token"],
        }
        response = await tt.http.post(REVOKE, data=form)
        assert response.status_code == 200
        # §2.0: "an empty response body ... {}", as JSON.
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {}
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert error_of(await tt.api("/v2/post/publish/creator_info/query/", headers)) == (
            401,
            "access_token_invalid",
        )
        assert_oauth_error(
            await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"])),
            "invalid_grant",
        )
        events = [d["body"] for d in await tt.webhooks()]
        assert [e["event"] for e in events] == ["authorization.removed"]
        assert events[0]["content"] == '{"reason":5}'

    async def test_revoke_needs_client_credentials(self, tt: Driver) -> None:
        token = await tt.token()
        form = {"client_key": tt.config.client_key, "token": token["access_token"]}
        assert_oauth_error(await tt.http.post(REVOKE, data=form), "invalid_request")

    async def test_empty_body_is_a_setting(self, tt: Driver) -> None:
        await tt.configure(revoke_empty_body=True)
        token = await tt.token()
        form = {
            "client_key": tt.config.client_key,
            "client_secret": tt.config.client_secret,
            "token": token["access_token"],
        }
        response = await tt.http.post(REVOKE, data=form)
        assert response.status_code == 200
        assert response.content == b""


SIX_SCOPES = (
    "user.info.basic,user.info.profile,user.info.stats,video.list,video.publish,video.upload"
)


class TestAppApproval:
    """§2.0: a scope the app is not approved for fails the whole consent."""

    async def test_new_app_has_the_posting_scopes(self, tt: Driver) -> None:
        query = await tt.consent("user.info.basic,video.publish,video.upload")
        assert query["scopes"] == "user.info.basic,video.publish,video.upload"
        token = await tt.token()
        assert token["scope"] == "user.info.basic,video.publish,video.upload"

    async def test_display_scopes_fail_the_whole_consent(self, tt: Driver) -> None:
        answer = await tt.http.get(AUTHORIZE, params=authorize_params(tt, scope=SIX_SCOPES))
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(tt.config.redirect_uris[0] + "?")
        query = callback_query(location)
        assert set(query) == {"error", "error_description", "state"}
        assert query["error"] == "invalid_scope"
        assert query["state"] == "st-123"
        description = query["error_description"]
        for scope in ("user.info.profile", "user.info.stats", "video.list"):
            assert scope in description
        for scope in ("user.info.basic", "video.publish", "video.upload"):
            assert scope not in description

    async def test_one_unapproved_scope_is_enough(self, tt: Driver) -> None:
        params = authorize_params(tt, scope="user.info.basic,video.publish,video.list")
        answer = await tt.http.post(AUTHORIZE, params=params, data={"decision": "approve"})
        query = callback_query(answer.headers["location"])
        assert query["error"] == "invalid_scope"
        assert "code" not in query

    async def test_display_approval_is_a_setting(self, tt: Driver) -> None:
        await tt.configure(display_api_approved=True)
        query = await tt.consent(SIX_SCOPES)
        assert query["scopes"] == SIX_SCOPES
        assert (await tt.token())["scope"] == SIX_SCOPES

    async def test_error_on_the_consent_screen_variant(self, tt: Driver) -> None:
        await tt.configure(unapproved_scope_error="consent_screen")
        page = await tt.http.get(AUTHORIZE, params=authorize_params(tt, scope=SIX_SCOPES))
        assert page.status_code == 400
        assert "location" not in page.headers
        assert "couldn't log in with TikTok" in page.text
        assert "<code>scope</code>" in page.text
        ok = await tt.http.get(AUTHORIZE, params=authorize_params(tt))
        assert ok.status_code == 200

    async def test_consent_without_the_browser_follows_the_rule(self, tt: Driver) -> None:
        response = await tt.http.post(
            "/_sandbox/tokens",
            json={"creator": "sandbox.creator", "scopes": ["user.info.basic", "video.list"]},
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"
        assert "video.list" in response.json()["error_description"]
        assert "user.info.basic" not in response.json()["error_description"]

    async def test_display_endpoints_refuse_a_posting_token(self, tt: Driver) -> None:
        headers = await tt.auth()
        for path, body in (
            ("/v2/video/list/?fields=id", {"max_count": 10}),
            ("/v2/video/query/?fields=id", {"filters": {"video_ids": ["1"]}}),
        ):
            assert error_of(await tt.api(path, headers, body)) == (401, "scope_not_authorized")
        response = await tt.http.get(
            "/v2/user/info/", params={"fields": "open_id,follower_count"}, headers=headers
        )
        assert error_of(response) == (400, "scope_permission_missed")


class TestAppApprovalFromPython:
    def test_issue_token_refuses_unapproved_scopes(self) -> None:
        sandbox = Sandbox(SandboxConfig(seed=1), ManualClock())
        with pytest.raises(OAuthError) as caught:
            sandbox.issue_token("sandbox.creator", ["user.info.basic", "user.info.stats"])
        assert caught.value.error == "invalid_scope"
        assert "user.info.stats" in caught.value.description
        assert sandbox.accounts.grants == {}
        granted = sandbox.issue_token("sandbox.creator")
        assert granted["scope"] == "user.info.basic,video.publish,video.upload"
        sandbox.configure(display_api_approved=True)
        assert sandbox.issue_token("sandbox.creator", ["user.info.stats"])["scope"] == (
            "user.info.stats"
        )

    def test_settings_from_the_environment(self) -> None:
        config = SandboxConfig.from_env(
            {
                "ZAKIPOST_SANDBOX_DISPLAY_API_APPROVED": "true",
                "ZAKIPOST_SANDBOX_ACCESS_TOKEN_TTL_SECONDS": "90",
                "ZAKIPOST_SANDBOX_REFRESH_TOKEN_TTL_SECONDS": "600",
                "ZAKIPOST_SANDBOX_UNAPPROVED_SCOPE_ERROR": "consent_screen",
            }
        )
        assert config.display_api_approved is True
        assert (config.access_token_ttl_seconds, config.refresh_token_ttl_seconds) == (90, 600)
        assert config.unapproved_scope_error == "consent_screen"
        assert len(config.approved_scopes) == 6
        defaults = SandboxConfig.from_env({})
        assert defaults.approved_scopes == ["user.info.basic", "video.publish", "video.upload"]
        assert (defaults.access_token_ttl_seconds, defaults.refresh_token_ttl_seconds) == (
            7200,
            15552000,
        )
