"""Today's token rules (§2.0) and the record clients' tests assert on: refreshes, expired uses."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from .driver import PUBLIC, Driver, error_of

TOKEN = "/v2/oauth/token/"
FILE_SOURCE = {
    "source": "FILE_UPLOAD",
    "video_size": 1000,
    "chunk_size": 1000,
    "total_chunk_count": 1,
}
PHOTO_SOURCE = {
    "source": "PULL_FROM_URL",
    "photo_images": ["https://example.com/a.jpg"],
    "photo_cover_index": 0,
}

# (fault/record endpoint name, method, path, body): every bearer API, one per family.
BEARER_APIS: list[tuple[str, str, str, Any]] = [
    ("user.info", "GET", "/v2/user/info/?fields=open_id", None),
    ("video.list", "POST", "/v2/video/list/?fields=id", {"max_count": 10}),
    ("video.query", "POST", "/v2/video/query/?fields=id", {"filters": {"video_ids": ["1"]}}),
    ("creator_info", "POST", "/v2/post/publish/creator_info/query/", {}),
    (
        "video.init",
        "POST",
        "/v2/post/publish/video/init/",
        {"post_info": PUBLIC, "source_info": FILE_SOURCE},
    ),
    ("inbox.init", "POST", "/v2/post/publish/inbox/video/init/", {"source_info": FILE_SOURCE}),
    (
        "content.init",
        "POST",
        "/v2/post/publish/content/init/",
        {
            "media_type": "PHOTO",
            "post_mode": "MEDIA_UPLOAD",
            "post_info": {},
            "source_info": PHOTO_SOURCE,
        },
    ),
    ("status.fetch", "POST", "/v2/post/publish/status/fetch/", {"publish_id": "v_pub_file~v2-1.1"}),
    ("cancel", "POST", "/v2/post/publish/cancel/", {"publish_id": "v_pub_url~v2-1.1"}),
]


def refresh_form(tt: Driver, refresh_token: str) -> dict[str, str]:
    return {
        "client_key": tt.config.client_key,
        "client_secret": tt.config.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def refreshes(tt: Driver) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await tt.control("GET", "tokens/refreshes")
    return result


async def expired_uses(tt: Driver) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await tt.control("GET", "tokens/expired-uses")
    return result


class TestExpiredAccessToken:
    @pytest.mark.parametrize(("endpoint", "method", "path", "body"), BEARER_APIS)
    async def test_refused_on_every_bearer_api(
        self, tt: Driver, endpoint: str, method: str, path: str, body: Any
    ) -> None:
        await tt.configure(display_api_approved=True, verified_domains=["example.com"])
        token = await tt.token()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        await tt.advance_clock(7199)
        live = await tt.http.request(method, path, headers=headers, json=body)
        assert error_of(live)[1] != "access_token_invalid", live.text
        await tt.advance_clock(1)
        expired = await tt.http.request(method, path, headers=headers, json=body)
        assert error_of(expired) == (401, "access_token_invalid")
        now = (await tt.control("GET", "clock"))["now"]
        assert await expired_uses(tt) == [
            {
                "at": now,
                "endpoint": endpoint,
                "open_id": token["open_id"],
                "expired_at": now,
            }
        ]

    async def test_unknown_and_revoked_tokens_are_not_expired_uses(self, tt: Driver) -> None:
        token = await tt.token()
        await tt.control("POST", "creators/sandbox.creator/revoke", json={})
        for value in (token["access_token"], "act.unknown"):
            headers = {"Authorization": f"Bearer {value}"}
            response = await tt.api("/v2/post/publish/creator_info/query/", headers, {})
            assert error_of(response) == (401, "access_token_invalid")
        assert await expired_uses(tt) == []

    async def test_record_cleared_by_reset(self, tt: Driver) -> None:
        headers = await tt.auth()
        await tt.advance_clock(7200)
        await tt.api("/v2/post/publish/creator_info/query/", headers, {})
        assert len(await expired_uses(tt)) == 1
        await tt.control("POST", "reset")
        assert await expired_uses(tt) == []


class TestRefreshRecord:
    async def test_each_attempt_with_digest_and_outcome(self, tt: Driver) -> None:
        first = await tt.token()
        await tt.advance_clock(3600)
        rotated = await tt.http.post(TOKEN, data=refresh_form(tt, first["refresh_token"]))
        assert rotated.status_code == 200
        replay = await tt.http.post(TOKEN, data=refresh_form(tt, first["refresh_token"]))
        assert replay.json()["error"] == "invalid_grant"
        unknown = await tt.http.post(TOKEN, data=refresh_form(tt, "rft.nope"))
        assert unknown.json()["error"] == "invalid_grant"
        bad_client = {**refresh_form(tt, rotated.json()["refresh_token"]), "client_secret": "x"}
        assert (await tt.http.post(TOKEN, data=bad_client)).json()["error"] == "invalid_client"
        missing = {**refresh_form(tt, ""), "refresh_token": ""}
        assert (await tt.http.post(TOKEN, data=missing)).json()["error"] == "invalid_request"
        now = (await tt.control("GET", "clock"))["now"]
        record = await refreshes(tt)
        assert record == [
            {
                "at": now,
                "refresh_token_sha256": sha256(first["refresh_token"]),
                "outcome": "rotated",
                "open_id": first["open_id"],
                "answer_lost": False,
            },
            {
                "at": now,
                "refresh_token_sha256": sha256(first["refresh_token"]),
                "outcome": "invalid_grant",
                "open_id": first["open_id"],
                "answer_lost": False,
            },
            {
                "at": now,
                "refresh_token_sha256": sha256("rft.nope"),
                "outcome": "invalid_grant",
                "open_id": None,
                "answer_lost": False,
            },
            {
                "at": now,
                "refresh_token_sha256": sha256(rotated.json()["refresh_token"]),
                "outcome": "invalid_client",
                "open_id": first["open_id"],
                "answer_lost": False,
            },
            {
                "at": now,
                "refresh_token_sha256": None,
                "outcome": "invalid_request",
                "open_id": None,
                "answer_lost": False,
            },
        ]
        # Never the tokens themselves.
        text = str(record)
        assert first["refresh_token"] not in text
        assert rotated.json()["refresh_token"] not in text

    async def test_shows_a_token_accepted_at_most_once(self, tt: Driver) -> None:
        token = await tt.token()
        for _ in range(3):
            await tt.advance_clock(7200)
            token = (
                await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"]))
            ).json()
        accepted = [
            r["refresh_token_sha256"] for r in await refreshes(tt) if r["outcome"] == "rotated"
        ]
        assert len(accepted) == 3
        assert len(set(accepted)) == len(accepted)

    async def test_without_rotation_the_outcome_says_refreshed(self, tt: Driver) -> None:
        await tt.configure(refresh_token_rotation=False)
        token = await tt.token()
        await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"]))
        assert [r["outcome"] for r in await refreshes(tt)] == ["refreshed"]

    async def test_code_exchanges_are_not_refreshes(self, tt: Driver) -> None:
        code = (await tt.consent())["code"]
        assert (await tt.exchange(code)).status_code == 200
        assert await refreshes(tt) == []

    async def test_record_cleared_by_reset(self, tt: Driver) -> None:
        token = await tt.token()
        await tt.http.post(TOKEN, data=refresh_form(tt, token["refresh_token"]))
        assert len(await refreshes(tt)) == 1
        await tt.control("POST", "reset")
        assert await refreshes(tt) == []
