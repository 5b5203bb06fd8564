"""Fault injection and the never-a-500 rule for bad input."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zakipost.sandbox import ManualClock, Sandbox, SandboxConfig, create_sandbox_app

from .driver import PUBLIC, Driver, error_of

CREATOR_INFO = "/v2/post/publish/creator_info/query/"
VIDEO_INIT = "/v2/post/publish/video/init/"
TOKEN = "/v2/oauth/token/"
FILE_SOURCE = {
    "source": "FILE_UPLOAD",
    "video_size": 1000,
    "chunk_size": 1000,
    "total_chunk_count": 1,
}


async def set_faults(tt: Driver, endpoint: str, **rates: float) -> None:
    await tt.control("PUT", f"faults/endpoints/{endpoint}", json=rates)


class TestRandomFaults:
    async def test_5xx(self, tt: Driver) -> None:
        headers = await tt.auth()
        await set_faults(tt, "creator_info", error_5xx_rate=1.0)
        response = await tt.api(CREATOR_INFO, headers)
        assert error_of(response) == (500, "internal_error")
        await tt.control("DELETE", "faults")
        assert (await tt.api(CREATOR_INFO, headers)).status_code == 200

    async def test_429(self, tt: Driver) -> None:
        await set_faults(tt, "*", rate_limit_rate=1.0)
        assert error_of(await tt.api(CREATOR_INFO, await tt.auth())) == (429, "rate_limit_exceeded")

    async def test_oauth_5xx_is_flat(self, tt: Driver) -> None:
        await set_faults(tt, "oauth.token", error_5xx_rate=1.0)
        response = await tt.exchange("whatever")
        assert response.status_code == 500
        assert set(response.json()) == {"error", "error_description", "log_id"}
        assert response.json()["error"] == "server_error"

    async def test_upload_5xx(self, tt: Driver) -> None:
        headers = await tt.auth()
        url = (await tt.init_file(headers, 1000)).json()["data"]["upload_url"]
        await set_faults(tt, "upload", error_5xx_rate=1.0)
        response = await tt.http.put(
            url,
            content=b"x" * 1000,
            headers={"Content-Type": "video/mp4", "Content-Range": "bytes 0-999/1000"},
        )
        assert response.status_code == 500

    async def test_timeout(self, tt: Driver) -> None:
        await tt.configure(fault_timeout_seconds=0.01)
        await set_faults(tt, "status.fetch", timeout_rate=1.0)
        response = await tt.api(
            "/v2/post/publish/status/fetch/", await tt.auth(), {"publish_id": "x"}
        )
        assert error_of(response) == (504, "internal_error")

    async def test_latency(self, tt: Driver) -> None:
        await set_faults(tt, "creator_info", latency_seconds=0.01)
        assert (await tt.api(CREATOR_INFO, await tt.auth())).status_code == 200

    async def test_dropped_connection(self, tt: Driver) -> None:
        headers = await tt.auth()
        await set_faults(tt, "video.init", drop_rate=1.0)
        with pytest.raises(httpx.RemoteProtocolError):
            await tt.api(VIDEO_INIT, headers, {"post_info": PUBLIC, "source_info": FILE_SOURCE})
        assert await tt.posts() == []

    async def test_response_lost_after_handling(self, tt: Driver) -> None:
        headers = await tt.auth()
        await set_faults(tt, "video.init", drop_after_rate=1.0)
        with pytest.raises(httpx.RemoteProtocolError):
            await tt.api(VIDEO_INIT, headers, {"post_info": PUBLIC, "source_info": FILE_SOURCE})
        # TikTok did create the publish: a blind retry would post twice.
        assert len(await tt.posts()) == 1

    async def test_seeded_randomness_is_reproducible(self, tt: Driver) -> None:
        async def outcomes() -> list[int]:
            headers = await tt.auth()
            await set_faults(tt, "creator_info", error_5xx_rate=0.5)
            return [(await tt.api(CREATOR_INFO, headers)).status_code for _ in range(16)]

        first = await outcomes()
        await tt.control("POST", "reset")
        assert await outcomes() == first
        assert set(first) == {200, 500}

    async def test_bad_fault_settings(self, tt: Driver) -> None:
        assert (
            await tt.http.put("/_sandbox/faults/endpoints/nope", json={"drop_rate": 1})
        ).status_code == 400
        assert (
            await tt.http.put("/_sandbox/faults/endpoints/cancel", json={"drop_rate": 2})
        ).status_code == 400
        assert (
            await tt.http.put("/_sandbox/faults/endpoints/cancel", json={"bogus": 1})
        ).status_code == 400


class TestQueuedErrors:
    async def test_error_next(self, tt: Driver) -> None:
        headers = await tt.auth()
        await tt.control(
            "POST",
            "faults/error-next",
            json={"endpoint": "video.init", "code": "spam_risk_too_many_posts", "count": 2},
        )
        body = {"post_info": PUBLIC, "source_info": FILE_SOURCE}
        assert error_of(await tt.api(VIDEO_INIT, headers, body)) == (
            403,
            "spam_risk_too_many_posts",
        )
        assert error_of(await tt.api(VIDEO_INIT, headers, body)) == (
            403,
            "spam_risk_too_many_posts",
        )
        assert (await tt.api(VIDEO_INIT, headers, body)).status_code == 200

    async def test_error_next_with_status_and_200_convention(self, tt: Driver) -> None:
        await tt.configure(error_http_status="always_200")
        await tt.control(
            "POST",
            "faults/error-next",
            json={"endpoint": "creator_info", "code": "access_token_invalid"},
        )
        assert error_of(await tt.api(CREATOR_INFO, await tt.auth())) == (
            200,
            "access_token_invalid",
        )

    async def test_expire_a_token(self, tt: Driver) -> None:
        token = await tt.token()
        await tt.control("POST", "tokens/expire", json={"access_token": token["access_token"]})
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert error_of(await tt.api(CREATOR_INFO, headers)) == (401, "access_token_invalid")


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "post_info": JSONISH
        | st.fixed_dictionaries({}, optional={"privacy_level": JSONISH, "title": JSONISH}),
        "source_info": JSONISH
        | st.fixed_dictionaries(
            {"source": st.sampled_from(["FILE_UPLOAD", "PULL_FROM_URL", "X"])},
            optional={
                "video_size": JSONISH,
                "chunk_size": JSONISH,
                "total_chunk_count": JSONISH,
                "video_url": JSONISH,
            },
        ),
        "media_type": JSONISH,
        "post_mode": JSONISH,
        "publish_id": JSONISH,
        "filters": JSONISH,
        "cursor": JSONISH,
        "max_count": JSONISH,
    },
)
ENDPOINTS = [
    "/v2/post/publish/video/init/",
    "/v2/post/publish/inbox/video/init/",
    "/v2/post/publish/content/init/",
    "/v2/post/publish/status/fetch/",
    "/v2/post/publish/cancel/",
    "/v2/post/publish/creator_info/query/",
    "/v2/video/list/?fields=id",
    "/v2/video/query/?fields=id,title",
]


class TestBadInputNeverCrashes:
    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(endpoint=st.sampled_from(ENDPOINTS), body=JSONISH | FIELDS)
    async def test_any_json_body(self, tt: Driver, endpoint: str, body: object) -> None:
        await tt.configure(rate_limits_enabled=False, daily_post_cap=10**6, pending_share_cap=10**6)
        headers = await tt.auth()
        response = await tt.http.post(endpoint, headers=headers, content=json.dumps(body))
        assert response.status_code in (200, 400, 401, 403), response.text
        status, code = error_of(response)
        assert (code == "ok") == (status == 200) or code.startswith("spam_risk")

    @pytest.mark.parametrize(
        ("method", "path", "content"),
        [
            ("POST", VIDEO_INIT, b"\xff\xfe"),
            ("POST", VIDEO_INIT, b"[1,2"),
            ("POST", "/v2/post/publish/status/fetch/", b"null"),
            ("POST", "/v2/video/list/", b"{}"),
            ("GET", "/v2/user/info/?fields=", b""),
            ("POST", "/v2/oauth/token/", b"%%%"),
            ("POST", "/v2/oauth/revoke/", b""),
            ("GET", "/v2/oauth/token/", b""),
            ("DELETE", VIDEO_INIT, b""),
            ("POST", "/v2/post/publish/video/init", b"{}"),
            ("GET", "/nothing/here", b""),
        ],
    )
    async def test_garbage(self, tt: Driver, method: str, path: str, content: bytes) -> None:
        headers = {**await tt.auth(), "Content-Type": "application/x-www-form-urlencoded"}
        response = await tt.http.request(method, path, headers=headers, content=content)
        body = response.json()
        if path.startswith("/v2/oauth/") and response.status_code == 200:
            assert set(body) == {"error", "error_description", "log_id"}  # OAuth errors: HTTP 200
        else:
            assert 400 <= response.status_code < 500, response.text
        assert "error" in body
        assert "Traceback" not in response.text


def refresh_form(tt: Driver, refresh_token: str) -> dict[str, str]:
    return {
        "client_key": tt.config.client_key,
        "client_secret": tt.config.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }


class TestLostRefreshAnswer:
    async def test_refresh_handled_then_the_connection_drops(self, tt: Driver) -> None:
        token = await tt.token()
        faults = await tt.control("POST", "faults/lose-next-refresh", json={})
        assert faults["lose_next_refresh"] == 1
        with pytest.raises(httpx.RemoteProtocolError):
            await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"]))
        # TikTok rotated: the token the client still holds is dead.
        replay = await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"]))
        assert replay.status_code == 200
        assert replay.json()["error"] == "invalid_grant"
        record = await tt.control("GET", "tokens/refreshes")
        assert [(r["outcome"], r["answer_lost"]) for r in record] == [
            ("rotated", True),
            ("invalid_grant", False),
        ]
        assert (await tt.control("GET", "faults"))["lose_next_refresh"] == 0
        # The refresh also ended the previous access token (the default reading).
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert error_of(await tt.api(CREATOR_INFO, headers)) == (401, "access_token_invalid")

    async def test_old_access_token_outlives_a_lost_answer_when_configured(
        self, tt: Driver
    ) -> None:
        await tt.configure(revoke_access_token_on_refresh=False)
        token = await tt.token()
        await tt.control("POST", "faults/lose-next-refresh", json={})
        with pytest.raises(httpx.RemoteProtocolError):
            await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"]))
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert (await tt.api(CREATOR_INFO, headers)).status_code == 200

    async def test_one_shot_with_a_count(self, tt: Driver) -> None:
        await tt.control("POST", "faults/lose-next-refresh", json={"count": 2})
        for _ in range(2):
            token = await tt.token()
            with pytest.raises(httpx.RemoteProtocolError):
                await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"]))
        token = await tt.token()
        answer = await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"]))
        assert answer.status_code == 200
        assert answer.json()["refresh_token"].startswith("rft.")

    async def test_only_refreshes_lose_their_answer(self, tt: Driver) -> None:
        await tt.control("POST", "faults/lose-next-refresh", json={})
        code = (await tt.consent())["code"]
        exchanged = await tt.exchange(code)
        assert exchanged.status_code == 200
        assert (await tt.control("GET", "faults"))["lose_next_refresh"] == 1
        with pytest.raises(httpx.RemoteProtocolError):
            await tt.http.post(TOKEN, data=refresh_form(tt, exchanged.json()["refresh_token"]))

    async def test_a_refused_refresh_loses_its_answer_too(self, tt: Driver) -> None:
        await tt.control("POST", "faults/lose-next-refresh", json={})
        with pytest.raises(httpx.RemoteProtocolError):
            await tt.http.post(TOKEN, data=refresh_form(tt, "rft.unknown"))
        [attempt] = await tt.control("GET", "tokens/refreshes")
        assert (attempt["outcome"], attempt["answer_lost"]) == ("invalid_grant", True)

    async def test_cleared_with_the_faults(self, tt: Driver) -> None:
        await tt.control("POST", "faults/lose-next-refresh", json={"count": 3})
        await tt.control("DELETE", "faults")
        token = await tt.token()
        answer = await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"]))
        assert answer.status_code == 200
        await tt.control("POST", "faults/lose-next-refresh", json={})
        await tt.control("POST", "reset")
        assert (await tt.control("GET", "faults"))["lose_next_refresh"] == 0

    @pytest.mark.parametrize("count", [0, -1, "1", True, 1.5])
    async def test_bad_count(self, tt: Driver, count: object) -> None:
        response = await tt.http.post("/_sandbox/faults/lose-next-refresh", json={"count": count})
        assert response.status_code == 400


class TestLostRefreshAnswerFromPython:
    async def test_python_api(self) -> None:
        app = create_sandbox_app(SandboxConfig(seed=1), clock=ManualClock())
        sandbox: Sandbox = app.state.sandbox
        token = sandbox.issue_token("sandbox.creator")
        sandbox.lose_next_refresh_answer()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://sandbox.test"
        ) as http:
            form = {
                "client_key": sandbox.config.client_key,
                "client_secret": sandbox.config.client_secret,
                "grant_type": "refresh_token",
                "refresh_token": token["refresh_token"],
            }
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post(TOKEN, data=form)
        [attempt] = sandbox.refresh_attempts
        assert attempt.outcome == "rotated"
        assert attempt.answer_lost is True
        assert (
            attempt.refresh_token_sha256
            == hashlib.sha256(token["refresh_token"].encode()).hexdigest()
        )
        assert sandbox.faults.lost_refresh_answers == 0
        sandbox.reset()
        assert sandbox.refresh_attempts == []
