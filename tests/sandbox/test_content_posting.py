"""Content Posting: creator info, the three inits, status, cancel, quotas and rules (§3, §5)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .driver import PUBLIC, SELF_ONLY, Driver, error_of
from .media import make_photo, make_video

CREATOR_INFO = "/v2/post/publish/creator_info/query/"
VIDEO_INIT = "/v2/post/publish/video/init/"
INBOX_INIT = "/v2/post/publish/inbox/video/init/"
CONTENT_INIT = "/v2/post/publish/content/init/"
STATUS = "/v2/post/publish/status/fetch/"
CANCEL = "/v2/post/publish/cancel/"

FILE_SOURCE = {
    "source": "FILE_UPLOAD",
    "video_size": 1000,
    "chunk_size": 1000,
    "total_chunk_count": 1,
}


def video_body(post_info: dict[str, Any] | None = None, **source) -> dict[str, Any]:
    return {
        "post_info": PUBLIC if post_info is None else post_info,
        "source_info": {**FILE_SOURCE, **source},
    }


def photo_body(
    tt: Driver, count: int = 2, mode: str = "DIRECT_POST", **overrides
) -> dict[str, Any]:
    body = {
        "media_type": "PHOTO",
        "post_mode": mode,
        "post_info": {**PUBLIC, "title": "photos", "description": "a carousel"},
        "source_info": {
            "source": "PULL_FROM_URL",
            "photo_images": [f"{tt.media_base}p{i}.jpg" for i in range(count)],
            "photo_cover_index": 0,
        },
    }
    body.update(overrides)
    return body


class TestCreatorInfo:
    async def test_default_creator(self, tt: Driver) -> None:
        response = await tt.api(CREATOR_INFO, await tt.auth())
        assert response.status_code == 200
        body = response.json()
        assert body["error"]["code"] == "ok"
        assert body["error"]["message"] == ""
        data = body["data"]
        assert data["creator_username"] == "sandbox.creator"
        assert data["creator_nickname"] == "Sandbox Creator"
        assert data["privacy_level_options"] == [
            "PUBLIC_TO_EVERYONE",
            "MUTUAL_FOLLOW_FRIENDS",
            "SELF_ONLY",
        ]
        assert data["comment_disabled"] is False
        assert data["duet_disabled"] is False
        assert data["stitch_disabled"] is False
        assert data["max_video_post_duration_sec"] == 600
        avatar = await tt.http.get(data["creator_avatar_url"])
        assert avatar.status_code == 200
        assert avatar.headers["content-type"] == "image/jpeg"

    @pytest.mark.parametrize(
        ("creator", "expected"),
        [
            (
                "private.creator",
                {
                    "privacy_level_options": [
                        "FOLLOWER_OF_CREATOR",
                        "MUTUAL_FOLLOW_FRIENDS",
                        "SELF_ONLY",
                    ],
                    "duet_disabled": True,
                    "stitch_disabled": True,
                },
            ),
            ("quiet.creator", {"comment_disabled": True}),
            ("short.creator", {"max_video_post_duration_sec": 60}),
        ],
    )
    async def test_builtin_creators(
        self, tt: Driver, creator: str, expected: dict[str, Any]
    ) -> None:
        data = (await tt.api(CREATOR_INFO, await tt.auth(creator))).json()["data"]
        for key, value in expected.items():
            assert data[key] == value

    async def test_empty_body_or_empty_object(self, tt: Driver) -> None:
        headers = await tt.auth()
        assert (await tt.http.post(CREATOR_INFO, headers=headers)).status_code == 200
        assert (await tt.api(CREATOR_INFO, headers, {})).status_code == 200

    async def test_needs_video_publish(self, tt: Driver) -> None:
        headers = await tt.auth(scopes=["user.info.basic", "video.upload"])
        assert error_of(await tt.api(CREATOR_INFO, headers)) == (401, "scope_not_authorized")

    @pytest.mark.parametrize(
        "authorization", [None, "Bearer", "Bearer act.nope", "Basic abc", "act.nope"]
    )
    async def test_bad_tokens(self, tt: Driver, authorization: str | None) -> None:
        headers = {"Authorization": authorization} if authorization else {}
        response = await tt.api(CREATOR_INFO, headers)
        assert error_of(response) == (401, "access_token_invalid")
        assert response.json()["data"] == {}

    async def test_rate_limit_20_per_minute(self, tt: Driver) -> None:
        headers = await tt.auth()
        for _ in range(20):
            assert (await tt.api(CREATOR_INFO, headers)).status_code == 200
        assert error_of(await tt.api(CREATOR_INFO, headers)) == (429, "rate_limit_exceeded")
        # Per token: another token of the same creator is not limited.
        assert (await tt.api(CREATOR_INFO, await tt.auth())).status_code == 200
        await tt.advance_clock(60)
        assert (await tt.api(CREATOR_INFO, headers)).status_code == 200


class TestDailyCap:
    async def test_busy_creator_reaches_cap(self, tt: Driver) -> None:
        headers = await tt.auth("busy.creator")
        assert (await tt.api(CREATOR_INFO, headers)).status_code == 200
        assert (await tt.api(VIDEO_INIT, headers, video_body())).status_code == 200
        # HTTP 200 on creator info (intentional), 403 on init.
        assert error_of(await tt.api(CREATOR_INFO, headers)) == (200, "spam_risk_too_many_posts")
        assert error_of(await tt.api(VIDEO_INIT, headers, video_body())) == (
            403,
            "spam_risk_too_many_posts",
        )
        # Rolling 24 h: the 14 seeded posts are an hour old (the 2-hour token is long gone).
        await tt.advance_clock(23 * 3600 + 1)
        headers = await tt.auth("busy.creator")
        assert (await tt.api(CREATOR_INFO, headers)).status_code == 200

    async def test_fifteen_per_day(self, tt: Driver) -> None:
        headers = await tt.auth()
        for i in range(15):
            if i and i % 6 == 0:
                await tt.advance_clock(60)  # stay under the 6/min init limit
            assert (await tt.api(VIDEO_INIT, headers, video_body())).status_code == 200
        await tt.advance_clock(60)
        assert error_of(await tt.api(VIDEO_INIT, headers, video_body())) == (
            403,
            "spam_risk_too_many_posts",
        )
        # The cap counts Direct Post only: inbox uploads still work.
        assert (await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})).status_code == 200

    async def test_forced_by_control(self, tt: Driver) -> None:
        headers = await tt.auth()
        await tt.control("POST", "creators/sandbox.creator/daily-cap", json={"reached": True})
        assert error_of(await tt.api(CREATOR_INFO, headers)) == (200, "spam_risk_too_many_posts")
        await tt.control("POST", "creators/sandbox.creator/daily-cap", json={"reached": False})
        assert error_of(await tt.api(CREATOR_INFO, headers)) == (200, "ok")

    async def test_banned_creator(self, tt: Driver) -> None:
        headers = await tt.auth()
        await tt.control("POST", "creators/sandbox.creator/ban", json={})
        assert error_of(await tt.api(CREATOR_INFO, headers)) == (
            200,
            "spam_risk_user_banned_from_posting",
        )
        assert error_of(await tt.api(VIDEO_INIT, headers, video_body())) == (
            403,
            "spam_risk_user_banned_from_posting",
        )
        assert error_of(await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})) == (
            403,
            "spam_risk_user_banned_from_posting",
        )


class TestVideoInit:
    async def test_file_upload_response(self, tt: Driver) -> None:
        response = await tt.api(VIDEO_INIT, await tt.auth(), video_body())
        assert response.status_code == 200
        data = response.json()["data"]
        assert set(data) == {"publish_id", "upload_url"}
        assert re.fullmatch(r"v_pub_file~v2-1\.\d{19}", data["publish_id"])
        assert len(data["publish_id"]) <= 64
        assert len(data["upload_url"]) <= 256
        base = str(tt.http.base_url).rstrip("/")
        assert re.fullmatch(
            re.escape(base) + r"/upload/\?upload_id=\d{19}&upload_token=[0-9a-f-]{36}",
            data["upload_url"],
        )

    async def test_pull_response(self, tt: Driver) -> None:
        tt.helper.media["v.mp4"] = make_video()
        body = {
            "post_info": PUBLIC,
            "source_info": {"source": "PULL_FROM_URL", "video_url": f"{tt.media_base}v.mp4"},
        }
        response = await tt.api(VIDEO_INIT, await tt.auth(), body)
        assert response.status_code == 200
        data = response.json()["data"]
        assert set(data) == {"publish_id"}
        assert re.fullmatch(r"v_pub_url~v2-1\.\d{19}", data["publish_id"])

    async def test_needs_video_publish(self, tt: Driver) -> None:
        headers = await tt.auth(scopes=["video.upload"])
        assert error_of(await tt.api(VIDEO_INIT, headers, video_body())) == (
            401,
            "scope_not_authorized",
        )

    @pytest.mark.parametrize(
        "body",
        [
            None,
            [],
            "text",
            {},
            {"source_info": FILE_SOURCE},
            {"post_info": "x", "source_info": FILE_SOURCE},
            {"post_info": PUBLIC},
            {"post_info": PUBLIC, "source_info": {"source": "CAMERA"}},
            {"post_info": PUBLIC, "source_info": {"source": "PULL_FROM_URL"}},
            {"post_info": {**PUBLIC, "title": 5}, "source_info": FILE_SOURCE},
            {"post_info": {**PUBLIC, "disable_comment": "yes"}, "source_info": FILE_SOURCE},
            {"post_info": {**PUBLIC, "video_cover_timestamp_ms": -1}, "source_info": FILE_SOURCE},
            {"post_info": {**PUBLIC, "privacy_level": 3}, "source_info": FILE_SOURCE},
            {"post_info": PUBLIC, "source_info": {**FILE_SOURCE, "video_size": "1000"}},
            {"post_info": PUBLIC, "source_info": {**FILE_SOURCE, "chunk_size": True}},
        ],
    )
    async def test_bad_bodies_are_invalid_params(self, tt: Driver, body) -> None:
        assert error_of(await tt.api(VIDEO_INIT, await tt.auth(), body)) == (400, "invalid_params")

    async def test_not_json(self, tt: Driver) -> None:
        headers = {**await tt.auth(), "Content-Type": "application/json; charset=UTF-8"}
        response = await tt.http.post(VIDEO_INIT, headers=headers, content=b"{not json")
        assert error_of(response) == (400, "invalid_params")

    @pytest.mark.parametrize(
        ("creator", "privacy"),
        [
            ("sandbox.creator", None),
            ("sandbox.creator", "FOLLOWER_OF_CREATOR"),
            ("sandbox.creator", "EVERYONE"),
            ("private.creator", "PUBLIC_TO_EVERYONE"),
        ],
    )
    async def test_privacy_level_option_mismatch(
        self, tt: Driver, creator: str, privacy: str | None
    ) -> None:
        post_info: dict[str, Any] = {"brand_content_toggle": False, "brand_organic_toggle": False}
        if privacy:
            post_info["privacy_level"] = privacy
        response = await tt.api(VIDEO_INIT, await tt.auth(creator), video_body(post_info))
        assert error_of(response) == (403, "privacy_level_option_mismatch")

    async def test_private_creator_follower_option(self, tt: Driver) -> None:
        post_info = {**PUBLIC, "privacy_level": "FOLLOWER_OF_CREATOR"}
        response = await tt.api(VIDEO_INIT, await tt.auth("private.creator"), video_body(post_info))
        assert response.status_code == 200

    async def test_brand_content_toggle_optional_by_default(self, tt: Driver) -> None:
        # Observed (§2.0): TikTok publishes bodies without it, the table's "required" aside.
        headers = await tt.auth()
        post_info = {"privacy_level": "PUBLIC_TO_EVERYONE"}
        response = await tt.api(VIDEO_INIT, headers, video_body(post_info))
        assert response.status_code == 200, response.text
        publish_id = response.json()["data"]["publish_id"]
        assert (await tt.post(publish_id))["brand_content_toggle"] is None

    async def test_brand_content_toggle_required_when_strict(self, tt: Driver) -> None:
        await tt.configure(require_brand_content_toggle=True)
        headers = await tt.auth()
        post_info = {"privacy_level": "PUBLIC_TO_EVERYONE"}
        assert error_of(await tt.api(VIDEO_INIT, headers, video_body(post_info))) == (
            400,
            "invalid_params",
        )
        post_info["brand_content_toggle"] = False
        assert (await tt.api(VIDEO_INIT, headers, video_body(post_info))).status_code == 200

    async def test_branded_content_cannot_be_private(self, tt: Driver) -> None:
        post_info = {**SELF_ONLY, "brand_content_toggle": True}
        headers = await tt.auth()
        assert error_of(await tt.api(VIDEO_INIT, headers, video_body(post_info))) == (
            400,
            "invalid_params",
        )
        await tt.configure(enforce_branded_content_privacy=False)
        assert (await tt.api(VIDEO_INIT, headers, video_body(post_info))).status_code == 200

    async def test_title_limit_counts_utf16_units(self, tt: Driver) -> None:
        headers = await tt.auth()
        emoji = "\N{GRINNING FACE}"  # two UTF-16 code units
        ok = await tt.api(VIDEO_INIT, headers, video_body({**PUBLIC, "title": emoji * 1100}))
        assert ok.status_code == 200
        too_long = await tt.api(
            VIDEO_INIT, headers, video_body({**PUBLIC, "title": emoji * 1100 + "x"})
        )
        assert error_of(too_long) == (400, "invalid_params")
        assert (
            await tt.api(VIDEO_INIT, headers, video_body({**PUBLIC, "title": "é" * 2200}))
        ).status_code == 200

    async def test_records_what_was_sent(self, tt: Driver) -> None:
        post_info = {
            **PUBLIC,
            "title": "hello #sandbox @friend",
            "disable_duet": True,
            "disable_comment": False,
            "video_cover_timestamp_ms": 1500,
            "brand_organic_toggle": True,
            "is_aigc": True,
        }
        await tt.api(VIDEO_INIT, await tt.auth("quiet.creator"), video_body(post_info))
        [post] = await tt.posts()
        assert post["title"] == "hello #sandbox @friend"
        assert post["privacy_level"] == "PUBLIC_TO_EVERYONE"
        assert post["post_mode"] == "DIRECT_POST"
        assert post["media_type"] == "VIDEO"
        assert post["source"] == "FILE_UPLOAD"
        assert post["disable_duet"] is True
        assert post["disable_comment"] is False
        assert post["effective_flags"]["disable_comment"] is True  # the creator's "No one"
        assert post["brand_organic_toggle"] is True
        assert post["brand_content_toggle"] is False
        assert post["is_aigc"] is True
        assert post["video_cover_timestamp_ms"] == 1500
        assert post["status"] == "PROCESSING_UPLOAD"

    async def test_cover_timestamp_only_inside_post_info(self, tt: Driver) -> None:
        # Observed (§2.0): in source_info it is ignored, not refused.
        body = video_body(PUBLIC, video_cover_timestamp_ms=1500)
        assert (await tt.api(VIDEO_INIT, await tt.auth(), body)).status_code == 200
        [post] = await tt.posts()
        assert post["video_cover_timestamp_ms"] is None

    async def test_rate_limit_6_per_minute(self, tt: Driver) -> None:
        headers = await tt.auth()
        for _ in range(6):
            assert (await tt.api(VIDEO_INIT, headers, video_body())).status_code == 200
        assert error_of(await tt.api(VIDEO_INIT, headers, video_body())) == (
            429,
            "rate_limit_exceeded",
        )
        # Each init endpoint has its own window unless configured as shared.
        assert (await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})).status_code == 200
        await tt.configure(init_rate_limit_shared=True)
        assert error_of(await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})) == (
            429,
            "rate_limit_exceeded",
        )
        await tt.advance_clock(59)
        assert error_of(await tt.api(VIDEO_INIT, headers, video_body())) == (
            429,
            "rate_limit_exceeded",
        )
        await tt.advance_clock(1)
        assert (await tt.api(VIDEO_INIT, headers, video_body())).status_code == 200


class TestPullOwnership:
    async def test_unverified_prefix(self, tt: Driver) -> None:
        body = {
            "post_info": PUBLIC,
            "source_info": {
                "source": "PULL_FROM_URL",
                "video_url": "https://cdn.example.com/v.mp4",
            },
        }
        assert error_of(await tt.api(VIDEO_INIT, await tt.auth(), body)) == (
            403,
            "url_ownership_unverified",
        )

    async def test_prefix_must_match_exactly(self, tt: Driver) -> None:
        url = tt.media_base.rstrip("/") + "-other/v.mp4"
        body = {"post_info": PUBLIC, "source_info": {"source": "PULL_FROM_URL", "video_url": url}}
        assert error_of(await tt.api(VIDEO_INIT, await tt.auth(), body)) == (
            403,
            "url_ownership_unverified",
        )

    async def test_verified_domain_covers_subdomains(self, tt: Driver) -> None:
        # manual: these hosts do not exist, so the pulls are never started.
        await tt.configure(
            verified_domains=["static.example.com"], allow_http_pull=False, progression="manual"
        )
        headers = await tt.auth()
        for url, expected in [
            ("https://video.static.example.com/a.mp4", (200, "ok")),
            ("https://static.example.com/a.mp4", (200, "ok")),
            ("https://example.com/a.mp4", (403, "url_ownership_unverified")),
        ]:
            body = {
                "post_info": PUBLIC,
                "source_info": {"source": "PULL_FROM_URL", "video_url": url},
            }
            assert error_of(await tt.api(VIDEO_INIT, headers, body)) == expected, url

    async def test_https_only_unless_allowed(self, tt: Driver) -> None:
        await tt.configure(
            allow_http_pull=False, verified_url_prefixes=["http://media.example.com/"]
        )
        body = {
            "post_info": PUBLIC,
            "source_info": {
                "source": "PULL_FROM_URL",
                "video_url": "http://media.example.com/v.mp4",
            },
        }
        assert error_of(await tt.api(VIDEO_INIT, await tt.auth(), body)) == (400, "invalid_params")


class TestInboxInit:
    async def test_response_and_id_format(self, tt: Driver) -> None:
        headers = await tt.auth(scopes=["video.upload"])
        response = await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})
        assert response.status_code == 200
        assert re.fullmatch(r"v_inbox_file~v2\.\d{19}", response.json()["data"]["publish_id"])
        tt.helper.media["v.mp4"] = make_video()
        pull = await tt.api(
            INBOX_INIT,
            headers,
            {"source_info": {"source": "PULL_FROM_URL", "video_url": f"{tt.media_base}v.mp4"}},
        )
        assert re.fullmatch(r"v_inbox_url~v2\.\d{19}", pull.json()["data"]["publish_id"])

    async def test_needs_video_upload(self, tt: Driver) -> None:
        headers = await tt.auth(scopes=["video.publish"])
        assert error_of(await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})) == (
            401,
            "scope_not_authorized",
        )

    async def test_five_pending_shares_per_day(self, tt: Driver) -> None:
        await tt.configure(pending_share_mode="rolling")
        headers = await tt.auth()
        for _ in range(5):
            assert (
                await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})
            ).status_code == 200
        assert error_of(await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})) == (
            403,
            "spam_risk_too_many_pending_share",
        )
        await tt.advance_clock(24 * 3600)
        headers = await tt.auth()  # the first token expired with the day
        assert (await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})).status_code == 200

    async def test_posting_a_draft_frees_its_slot_by_default(self, tt: Driver) -> None:
        # Observed (§5): slots free up as soon as drafts are posted.
        headers = await tt.auth()
        ids = [await tt.upload_video(headers, inbox=True) for _ in range(5)]
        assert error_of(await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})) == (
            403,
            "spam_risk_too_many_pending_share",
        )
        await tt.control("POST", f"posts/{ids[0]}/post-draft", json={})
        await tt.advance_clock(60)
        assert (await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})).status_code == 200


class TestPhotoInit:
    async def test_direct_and_media_upload_ids(self, tt: Driver) -> None:
        headers = await tt.auth()
        direct = await tt.api(CONTENT_INIT, headers, photo_body(tt))
        assert direct.status_code == 200, direct.text
        assert set(direct.json()["data"]) == {"publish_id"}
        assert re.fullmatch(r"p_pub_url~v2\.\d{19}", direct.json()["data"]["publish_id"])
        inbox = await tt.api(CONTENT_INIT, headers, photo_body(tt, mode="MEDIA_UPLOAD"))
        assert re.fullmatch(r"p_inbox_url~v2\.\d{19}", inbox.json()["data"]["publish_id"])

    @pytest.mark.parametrize(
        "change",
        [
            {"media_type": "VIDEO"},
            {"post_mode": "DIRECT POST"},
            {"post_info": None},
            {
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "photo_images": ["x"],
                    "photo_cover_index": 0,
                }
            },
            {"is_aigc": "yes"},
        ],
    )
    async def test_invalid_params(self, tt: Driver, change: dict[str, Any]) -> None:
        body = {k: v for k, v in {**photo_body(tt), **change}.items() if v is not None}
        assert error_of(await tt.api(CONTENT_INIT, await tt.auth(), body)) == (
            400,
            "invalid_params",
        )

    @pytest.mark.parametrize(
        ("count", "cover", "status"),
        [(0, 0, 400), (1, 0, 200), (35, 34, 200), (36, 0, 400), (3, 3, 400), (3, -1, 400)],
    )
    async def test_photo_count_and_cover(
        self, tt: Driver, count: int, cover: int, status: int
    ) -> None:
        body = photo_body(tt, count)
        body["source_info"]["photo_cover_index"] = cover
        response = await tt.api(CONTENT_INIT, await tt.auth(), body)
        assert response.status_code == status, response.text

    async def test_text_limits(self, tt: Driver) -> None:
        headers = await tt.auth()
        for key, limit in (("title", 90), ("description", 4000)):
            body = photo_body(tt)
            body["post_info"][key] = "\N{GRINNING FACE}" * (limit // 2)
            assert (await tt.api(CONTENT_INIT, headers, body)).status_code == 200
            body["post_info"][key] += "x"
            assert error_of(await tt.api(CONTENT_INIT, headers, body)) == (400, "invalid_params")

    async def test_scope_depends_on_mode(self, tt: Driver) -> None:
        upload_only = await tt.auth(scopes=["video.upload"])
        assert error_of(await tt.api(CONTENT_INIT, upload_only, photo_body(tt))) == (
            401,
            "scope_not_authorized",
        )
        assert (
            await tt.api(CONTENT_INIT, upload_only, photo_body(tt, mode="MEDIA_UPLOAD"))
        ).status_code == 200
        publish_only = await tt.auth(scopes=["video.publish"])
        response = await tt.api(CONTENT_INIT, publish_only, photo_body(tt, mode="MEDIA_UPLOAD"))
        assert error_of(response) == (401, "scope_not_authorized")

    async def test_unverified_photo_url(self, tt: Driver) -> None:
        body = photo_body(tt)
        body["source_info"]["photo_images"].append("https://elsewhere.example/p.jpg")
        assert error_of(await tt.api(CONTENT_INIT, await tt.auth(), body)) == (
            403,
            "url_ownership_unverified",
        )

    async def test_media_upload_privacy_required_by_default(self, tt: Driver) -> None:
        body = photo_body(tt, mode="MEDIA_UPLOAD")
        del body["post_info"]["privacy_level"]
        headers = await tt.auth()
        assert error_of(await tt.api(CONTENT_INIT, headers, body)) == (
            403,
            "privacy_level_option_mismatch",
        )
        await tt.configure(photo_media_upload_requires_privacy=False)
        assert (await tt.api(CONTENT_INIT, headers, body)).status_code == 200

    async def test_brand_toggles_optional_by_default(self, tt: Driver) -> None:
        body = photo_body(tt)
        del body["post_info"]["brand_organic_toggle"]
        del body["post_info"]["brand_content_toggle"]
        response = await tt.api(CONTENT_INIT, await tt.auth(), body)
        assert response.status_code == 200, response.text

    async def test_strict_direct_post_needs_both_brand_toggles(self, tt: Driver) -> None:
        await tt.configure(require_brand_content_toggle=True)
        for toggle in ("brand_organic_toggle", "brand_content_toggle"):
            body = photo_body(tt)
            del body["post_info"][toggle]
            assert error_of(await tt.api(CONTENT_INIT, await tt.auth(), body)) == (
                400,
                "invalid_params",
            )
        assert (await tt.api(CONTENT_INIT, await tt.auth(), photo_body(tt))).status_code == 200

    async def test_old_app_version(self, tt: Driver) -> None:
        await tt.control("POST", "creators", json={"username": "old.app", "app_version": "30.1.2"})
        headers = await tt.auth("old.app")
        assert error_of(
            await tt.api(CONTENT_INIT, headers, photo_body(tt, mode="MEDIA_UPLOAD"))
        ) == (
            400,
            "app_version_check_failed",
        )
        assert (await tt.api(CONTENT_INIT, headers, photo_body(tt))).status_code == 200

    async def test_records_photo_details(self, tt: Driver) -> None:
        body = photo_body(tt, 3, is_aigc=True)
        body["source_info"]["photo_cover_index"] = 2
        body["post_info"]["auto_add_music"] = True
        for i in range(3):
            tt.helper.media[f"p{i}.jpg"] = make_photo()
        await tt.api(CONTENT_INIT, await tt.auth(), body)
        [post] = await tt.posts()
        assert post["media_type"] == "PHOTO"
        assert post["source"] == "PULL_FROM_URL"
        assert post["photo_count"] == 3
        assert post["photo_cover_index"] == 2
        assert post["title"] == "photos"
        assert post["description"] == "a carousel"
        assert post["is_aigc"] is True
        assert post["auto_add_music"] is True


class TestUnauditedClient:
    async def test_public_account_refused_even_self_only(self, tt: Driver) -> None:
        await tt.configure(audited=False)
        response = await tt.api(VIDEO_INIT, await tt.auth(), video_body(SELF_ONLY))
        assert error_of(response) == (403, "unaudited_client_can_only_post_to_private_accounts")
        assert "content-sharing-guidelines" in response.json()["error"]["message"]

    async def test_private_account_only_self_only(self, tt: Driver) -> None:
        await tt.configure(audited=False)
        headers = await tt.auth("private.creator")
        followers = {**SELF_ONLY, "privacy_level": "FOLLOWER_OF_CREATOR"}
        assert error_of(await tt.api(VIDEO_INIT, headers, video_body(followers))) == (
            403,
            "unaudited_client_can_only_post_to_private_accounts",
        )
        assert (await tt.api(VIDEO_INIT, headers, video_body(SELF_ONLY))).status_code == 200

    async def test_inbox_is_not_restricted(self, tt: Driver) -> None:
        await tt.configure(audited=False)
        assert (
            await tt.api(INBOX_INIT, await tt.auth(), {"source_info": FILE_SOURCE})
        ).status_code == 200

    async def test_five_active_users_per_day(self, tt: Driver) -> None:
        await tt.configure(audited=False)
        for i in range(6):
            await tt.control("POST", "creators", json={"username": f"priv{i}", "is_private": True})
        for i in range(5):
            response = await tt.api(VIDEO_INIT, await tt.auth(f"priv{i}"), video_body(SELF_ONLY))
            assert response.status_code == 200
        sixth = await tt.auth("priv5")
        assert error_of(await tt.api(CREATOR_INFO, sixth)) == (200, "reached_active_user_cap")
        assert error_of(await tt.api(VIDEO_INIT, sixth, video_body(SELF_ONLY))) == (
            403,
            "reached_active_user_cap",
        )
        # Already-active users keep posting.
        assert (
            await tt.api(VIDEO_INIT, await tt.auth("priv0"), video_body(SELF_ONLY))
        ).status_code == 200


class TestStatusFetch:
    async def test_unknown_and_foreign_ids(self, tt: Driver) -> None:
        mine = await tt.auth()
        publish_id = (await tt.api(VIDEO_INIT, mine, video_body())).json()["data"]["publish_id"]
        assert error_of(await tt.api(STATUS, mine, {"publish_id": "v_pub_file~v2-1.1"})) == (
            400,
            "invalid_publish_id",
        )
        other = await tt.auth("quiet.creator")
        assert error_of(await tt.api(STATUS, other, {"publish_id": publish_id})) == (
            400,
            "token_not_authorized_for_specified_publish_id",
        )
        assert error_of(await tt.api(STATUS, mine, {})) == (400, "invalid_params")
        assert error_of(await tt.api(STATUS, mine, {"publish_id": 7})) == (400, "invalid_params")

    async def test_either_scope(self, tt: Driver) -> None:
        headers = await tt.auth(scopes=["video.upload"])
        publish_id = (await tt.api(INBOX_INIT, headers, {"source_info": FILE_SOURCE})).json()[
            "data"
        ]["publish_id"]
        assert (await tt.api(STATUS, headers, {"publish_id": publish_id})).status_code == 200
        nothing = await tt.auth(scopes=["user.info.basic"])
        assert error_of(await tt.api(STATUS, nothing, {"publish_id": publish_id})) == (
            401,
            "scope_not_authorized",
        )

    async def test_shape_while_uploading(self, tt: Driver) -> None:
        headers = await tt.auth()
        publish_id = (await tt.api(VIDEO_INIT, headers, video_body())).json()["data"]["publish_id"]
        body = (await tt.api(STATUS, headers, {"publish_id": publish_id})).json()
        assert body["error"]["code"] == "ok"
        assert body["data"] == {
            "status": "PROCESSING_UPLOAD",
            "publicaly_available_post_id": [],
            "uploaded_bytes": 0,
        }

    async def test_rate_limit_30_per_minute(self, tt: Driver) -> None:
        headers = await tt.auth()
        publish_id = (await tt.api(VIDEO_INIT, headers, video_body())).json()["data"]["publish_id"]
        for _ in range(30):
            assert (await tt.api(STATUS, headers, {"publish_id": publish_id})).status_code == 200
        assert error_of(await tt.api(STATUS, headers, {"publish_id": publish_id})) == (
            429,
            "rate_limit_exceeded",
        )


class TestCancel:
    async def test_cancel_a_pending_pull(self, tt: Driver) -> None:
        await tt.configure(progression="manual")
        tt.helper.media["v.mp4"] = make_video()
        headers = await tt.auth()
        body = {
            "post_info": PUBLIC,
            "source_info": {"source": "PULL_FROM_URL", "video_url": f"{tt.media_base}v.mp4"},
        }
        publish_id = (await tt.api(VIDEO_INIT, headers, body)).json()["data"]["publish_id"]
        assert (await tt.status(headers, publish_id))["status"] == "PROCESSING_DOWNLOAD"
        response = await tt.api(CANCEL, headers, {"publish_id": publish_id})
        assert response.status_code == 200
        assert set(response.json()) == {"error"}  # no `data` on success
        assert response.json()["error"]["code"] == "ok"
        status = await tt.status(headers, publish_id)
        assert status["status"] == "FAILED"
        assert status["fail_reason"] == "publish_cancelled"
        assert error_of(await tt.api(CANCEL, headers, {"publish_id": publish_id})) == (
            400,
            "publish_not_cancellable",
        )
        failed = [d["body"] for d in await tt.webhooks() if d["event"] == "post.publish.failed"]
        assert '"reason":"publish_cancelled"' in failed[0]["content"]

    async def test_cancel_an_in_flight_download(self, tt: Driver) -> None:
        tt.helper.media["slow.mp4"] = make_video()
        release = tt.helper.hold("slow.mp4")
        headers = await tt.auth()
        body = {
            "post_info": PUBLIC,
            "source_info": {"source": "PULL_FROM_URL", "video_url": f"{tt.media_base}slow.mp4"},
        }
        publish_id = (await tt.api(VIDEO_INIT, headers, body)).json()["data"]["publish_id"]
        assert (await tt.api(CANCEL, headers, {"publish_id": publish_id})).status_code == 200
        release.set()
        await tt.settle()
        status = await tt.status(headers, publish_id)
        assert status["status"] == "FAILED"
        assert status["fail_reason"] == "publish_cancelled"

    async def test_file_uploads_and_finished_pulls_are_not_cancellable(self, tt: Driver) -> None:
        headers = await tt.auth()
        file_id = (await tt.api(VIDEO_INIT, headers, video_body())).json()["data"]["publish_id"]
        assert error_of(await tt.api(CANCEL, headers, {"publish_id": file_id})) == (
            400,
            "publish_not_cancellable",
        )
        tt.helper.media["v.mp4"] = make_video()
        body = {
            "post_info": PUBLIC,
            "source_info": {"source": "PULL_FROM_URL", "video_url": f"{tt.media_base}v.mp4"},
        }
        pull_id = (await tt.api(VIDEO_INIT, headers, body)).json()["data"]["publish_id"]
        await tt.settle()
        assert error_of(await tt.api(CANCEL, headers, {"publish_id": pull_id})) == (
            400,
            "publish_not_cancellable",
        )

    async def test_lookup_errors(self, tt: Driver) -> None:
        headers = await tt.auth()
        assert error_of(await tt.api(CANCEL, headers, {"publish_id": "nope"})) == (
            400,
            "invalid_publish_id",
        )
        file_id = (await tt.api(VIDEO_INIT, headers, video_body())).json()["data"]["publish_id"]
        other = await tt.auth("quiet.creator")
        assert error_of(await tt.api(CANCEL, other, {"publish_id": file_id})) == (
            400,
            "token_not_authorized_for_specified_publish_id",
        )


class TestHttpStatusConvention:
    async def test_always_200(self, tt: Driver) -> None:
        await tt.configure(error_http_status="always_200")
        response = await tt.api(VIDEO_INIT, await tt.auth(), {})
        assert error_of(response) == (200, "invalid_params")
        assert error_of(await tt.api(CREATOR_INFO, {})) == (200, "access_token_invalid")
