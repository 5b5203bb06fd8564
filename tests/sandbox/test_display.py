"""Display API (§7): user info with per-field scopes, video list and query."""

from __future__ import annotations

from typing import Any

import pytest

from .driver import PUBLIC, SELF_ONLY, Driver, error_of

USER_INFO = "/v2/user/info/"
LIST = "/v2/video/list/"
QUERY = "/v2/video/query/"
ALL_VIDEO_FIELDS = (
    "id,create_time,cover_image_url,share_url,video_description,duration,height,width,title,"
    "embed_html,embed_link,like_count,comment_count,share_count,view_count"
)


@pytest.fixture(autouse=True)
async def display_approved(tt: Driver) -> None:
    """These tests are of an app with the Display API product (a new app lacks it)."""
    await tt.configure(display_api_approved=True)


class TestUserInfo:
    async def test_basic_fields(self, tt: Driver) -> None:
        headers = await tt.auth(scopes=["user.info.basic"])
        fields = "open_id,union_id,avatar_url,avatar_url_100,avatar_large_url,display_name"
        response = await tt.http.get(USER_INFO, params={"fields": fields}, headers=headers)
        assert response.status_code == 200
        user = response.json()["data"]["user"]
        assert set(user) == set(fields.split(","))
        creator = (await tt.creators())["sandbox.creator"]
        assert user["open_id"] == creator["open_id"]
        assert user["union_id"] == creator["union_id"]
        assert user["display_name"] == "Sandbox Creator"
        assert (await tt.http.get(user["avatar_url_100"])).status_code == 200

    async def test_only_requested_fields(self, tt: Driver) -> None:
        response = await tt.http.get(
            USER_INFO, params={"fields": "open_id"}, headers=await tt.auth()
        )
        assert response.json()["data"] == {
            "user": {"open_id": (await tt.creators())["sandbox.creator"]["open_id"]}
        }

    async def test_profile_and_stats(self, tt: Driver) -> None:
        headers = await tt.auth()
        await tt.upload_video(headers)
        params = {
            "fields": "username,bio_description,is_verified,profile_deep_link,follower_count,video_count"
        }
        user = (await tt.http.get(USER_INFO, params=params, headers=headers)).json()["data"]["user"]
        assert user["username"] == "sandbox.creator"
        assert user["is_verified"] is False
        assert user["follower_count"] == 1520
        assert user["video_count"] == 1
        assert "utm_source=" + tt.config.client_key in user["profile_deep_link"]

    @pytest.mark.parametrize(
        "field", ["username", "bio_description", "follower_count", "likes_count"]
    )
    async def test_field_needs_its_scope(self, tt: Driver, field: str) -> None:
        headers = await tt.auth(scopes=["user.info.basic"])
        response = await tt.http.get(
            USER_INFO, params={"fields": f"open_id,{field}"}, headers=headers
        )
        assert error_of(response) == (400, "scope_permission_missed")

    @pytest.mark.parametrize(
        "params",
        [{}, {"fields": ""}, {"fields": "open_id,password"}, {"fields": "profile_web_link"}],
    )
    async def test_invalid_fields(self, tt: Driver, params: dict[str, Any]) -> None:
        response = await tt.http.get(USER_INFO, params=params, headers=await tt.auth())
        assert error_of(response) == (400, "invalid_params")

    async def test_needs_a_token(self, tt: Driver) -> None:
        assert error_of(await tt.http.get(USER_INFO, params={"fields": "open_id"})) == (
            401,
            "access_token_invalid",
        )

    async def test_rate_limit(self, tt: Driver) -> None:
        await tt.configure(rate_limits={"user.info": 3})
        headers = await tt.auth()
        for _ in range(3):
            assert (
                await tt.http.get(USER_INFO, params={"fields": "open_id"}, headers=headers)
            ).status_code == 200
        # Per app by default (the strict reading): another user's token is limited too.
        other = await tt.auth("quiet.creator")
        response = await tt.http.get(USER_INFO, params={"fields": "open_id"}, headers=other)
        assert error_of(response) == (429, "rate_limit_exceeded")
        await tt.configure(display_rate_limit_scope="token")
        assert (
            await tt.http.get(USER_INFO, params={"fields": "open_id"}, headers=other)
        ).status_code == 200


async def post_videos(tt: Driver, headers: dict[str, str], count: int, **post_info) -> list[str]:
    ids: list[str] = []
    for i in range(count):
        if i and i % 6 == 0:
            await tt.advance_clock(60)
        publish_id = await tt.upload_video(
            headers, post_info={**PUBLIC, "title": f"video {i}", **post_info}
        )
        ids.extend(
            str(p) for p in (await tt.status(headers, publish_id))["publicaly_available_post_id"]
        )
        await tt.advance_clock(1)
    return ids


class TestVideoList:
    async def test_needs_video_list(self, tt: Driver) -> None:
        headers = await tt.auth(scopes=["user.info.basic"])
        response = await tt.http.post(LIST, params={"fields": "id"}, headers=headers, json={})
        assert error_of(response) == (401, "scope_not_authorized")

    async def test_public_posts_newest_first(self, tt: Driver) -> None:
        headers = await tt.auth()
        ids = await post_videos(tt, headers, 3)
        await tt.upload_video(headers, post_info=SELF_ONLY)  # never listed
        response = await tt.http.post(
            LIST, params={"fields": ALL_VIDEO_FIELDS}, headers=headers, json={}
        )
        assert response.status_code == 200
        data = response.json()["data"]
        assert [v["id"] for v in data["videos"]] == ids[::-1]
        assert data["has_more"] is False
        video = data["videos"][0]
        assert set(video) == set(ALL_VIDEO_FIELDS.split(","))
        assert video["title"] == "video 2"
        assert (video["width"], video["height"], video["duration"]) == (360, 640, 3)
        assert "utm_campaign=tt4d_open_api" in video["share_url"]
        assert isinstance(video["create_time"], int)
        assert (await tt.http.get(video["cover_image_url"])).status_code == 200

    async def test_cursor_pagination(self, tt: Driver) -> None:
        headers = await tt.auth()
        ids = await post_videos(tt, headers, 5)
        seen: list[str] = []
        cursor = None
        while True:
            body = {"max_count": 2, **({"cursor": cursor} if cursor is not None else {})}
            data = (
                await tt.http.post(LIST, params={"fields": "id"}, headers=headers, json=body)
            ).json()["data"]
            seen += [v["id"] for v in data["videos"]]
            cursor = data["cursor"]
            if not data["has_more"]:
                break
        assert seen == ids[::-1]

    @pytest.mark.parametrize(
        "body", [{"max_count": 21}, {"max_count": 0}, {"max_count": "5"}, {"cursor": -1}]
    )
    async def test_invalid_body(self, tt: Driver, body: dict[str, Any]) -> None:
        response = await tt.http.post(
            LIST, params={"fields": "id"}, headers=await tt.auth(), json=body
        )
        assert error_of(response) == (400, "invalid_params")

    async def test_fields_required(self, tt: Driver) -> None:
        response = await tt.http.post(LIST, headers=await tt.auth(), json={})
        assert error_of(response) == (400, "invalid_params")

    async def test_taken_down_posts_disappear(self, tt: Driver) -> None:
        headers = await tt.auth()
        await post_videos(tt, headers, 1)
        [post] = await tt.posts()
        await tt.control("POST", f"posts/{post['publish_id']}/take-down")
        data = (await tt.http.post(LIST, params={"fields": "id"}, headers=headers, json={})).json()[
            "data"
        ]
        assert data["videos"] == []


class TestVideoQuery:
    async def test_only_own_videos(self, tt: Driver) -> None:
        mine = await tt.auth()
        theirs = await tt.auth("quiet.creator")
        my_ids = await post_videos(tt, mine, 2)
        their_ids = await post_videos(tt, theirs, 1)
        body = {"filters": {"video_ids": [my_ids[0], their_ids[0], "123"]}}
        data = (
            await tt.http.post(QUERY, params={"fields": "id,title"}, headers=mine, json=body)
        ).json()["data"]
        assert data["videos"] == [{"id": my_ids[0], "title": "video 0"}]

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"filters": {}},
            {"filters": {"video_ids": []}},
            {"filters": {"video_ids": [str(i) for i in range(21)]}},
            {"filters": {"video_ids": [1]}},
        ],
    )
    async def test_invalid_filters(self, tt: Driver, body: dict[str, Any]) -> None:
        response = await tt.http.post(
            QUERY, params={"fields": "id"}, headers=await tt.auth(), json=body
        )
        assert error_of(response) == (400, "invalid_params")
