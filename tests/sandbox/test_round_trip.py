"""Whole flows over plain HTTP, as a third-party TikTok client would drive them.

Consent form -> token -> creator info -> init -> chunk PUTs / pull -> status polling.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from .driver import MIB, Driver, chunk_plan, chunk_ranges
from .media import make_photo, make_video, pad_mp4


async def connect(tt: Driver, scope: str) -> dict[str, str]:
    query = await tt.consent(scope)
    assert query["state"] == "st-123"
    token = await tt.exchange(query["code"])
    assert token.status_code == 200
    assert token.json()["scope"] == scope
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def poll(
    tt: Driver, headers: dict[str, str], publish_id: str, until: set[str], step: float = 1.0
) -> dict[str, Any]:
    for _ in range(120):
        status = await tt.status(headers, publish_id)
        if status["status"] in until and (
            status["status"] != "PUBLISH_COMPLETE" or status["publicaly_available_post_id"]
        ):
            return status
        await tt.settle()
        await tt.advance_clock(step)  # simulated time: progress without sleeping
    raise AssertionError(f"{publish_id} stuck at {status}")


class TestDirectPostFileUpload:
    async def test_round_trip(self, tt: Driver) -> None:
        await tt.configure(
            progression="time",
            processing_delay_seconds=2,
            moderation_delay_seconds=5,
            display_api_approved=True,
        )
        headers = await connect(tt, "user.info.basic,video.publish,video.list")
        info = (await tt.api("/v2/post/publish/creator_info/query/", headers, {})).json()
        assert info["error"]["code"] == "ok"
        privacy = info["data"]["privacy_level_options"][0]

        data = pad_mp4(make_video(), 12 * MIB + 123)
        chunk, count = chunk_plan(len(data), 5 * MIB)
        init = await tt.api(
            "/v2/post/publish/video/init/",
            headers,
            {
                "post_info": {
                    "title": "Round trip #sandbox",
                    "privacy_level": privacy,
                    "disable_duet": False,
                    "disable_comment": False,
                    "disable_stitch": False,
                    "video_cover_timestamp_ms": 1000,
                    "brand_content_toggle": False,
                    "brand_organic_toggle": False,
                },
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": len(data),
                    "chunk_size": chunk,
                    "total_chunk_count": count,
                },
            },
        )
        assert init.status_code == 200, init.text
        publish_id, upload_url = (
            init.json()["data"]["publish_id"],
            init.json()["data"]["upload_url"],
        )

        statuses = []
        for first, last in chunk_ranges(len(data), chunk, count):
            put = await tt.http.put(
                upload_url,
                content=data[first : last + 1],
                headers={
                    "Content-Type": "video/mp4",
                    "Content-Range": f"bytes {first}-{last}/{len(data)}",
                },
            )
            statuses.append(put.status_code)
            assert put.headers["content-range"] == f"bytes 0-{last}/{len(data)}"
        assert statuses == [206, 201]

        status = await poll(tt, headers, publish_id, {"PUBLISH_COMPLETE", "FAILED"})
        assert status["status"] == "PUBLISH_COMPLETE"
        [post_id] = status["publicaly_available_post_id"]

        listed = await tt.http.post(
            "/v2/video/list/", params={"fields": "id,title"}, headers=headers, json={}
        )
        assert listed.json()["data"]["videos"] == [
            {"id": str(post_id), "title": "Round trip #sandbox"}
        ]

        [received] = await tt.posts()
        assert received["publish_id"] == publish_id
        assert received["title"] == "Round trip #sandbox"
        assert received["media_sha256"] == hashlib.sha256(data).hexdigest()
        assert received["media_size"] == len(data)
        assert received["publicaly_available_post_id"] == [post_id]
        events = [d["event"] for d in await tt.webhooks()]
        assert events == ["post.publish.complete", "post.publish.publicly_available"]


class TestInboxUpload:
    async def test_round_trip(self, tt: Driver) -> None:
        headers = await connect(tt, "user.info.basic,video.upload")
        data = make_video()
        init = await tt.api(
            "/v2/post/publish/inbox/video/init/",
            headers,
            {
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": len(data),
                    "chunk_size": len(data),
                    "total_chunk_count": 1,
                }
            },
        )
        assert init.status_code == 200, init.text
        publish_id = init.json()["data"]["publish_id"]
        put = await tt.http.put(
            init.json()["data"]["upload_url"],
            content=data,
            headers={
                "Content-Type": "video/mp4",
                "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}",
            },
        )
        assert put.status_code == 201
        status = await poll(tt, headers, publish_id, {"SEND_TO_USER_INBOX", "FAILED"})
        assert status["status"] == "SEND_TO_USER_INBOX"
        # The creator opens the notification and posts the draft in the app.
        await tt.control(
            "POST", f"posts/{publish_id}/post-draft", json={"privacy_level": "PUBLIC_TO_EVERYONE"}
        )
        status = await poll(tt, headers, publish_id, {"PUBLISH_COMPLETE"})
        assert len(status["publicaly_available_post_id"]) == 1
        [received] = await tt.posts()
        assert received["post_mode"] == "MEDIA_UPLOAD"
        assert received["privacy_level"] is None


class TestPhotoPull:
    async def test_round_trip(self, tt: Driver) -> None:
        photos = [make_photo(), make_photo(1080, 1350, "WEBP"), make_photo(1920, 1080)]
        for i, photo in enumerate(photos):
            tt.helper.media[f"photo{i}.img"] = photo
        headers = await connect(tt, "user.info.basic,video.publish")
        info = (await tt.api("/v2/post/publish/creator_info/query/", headers)).json()["data"]
        init = await tt.api(
            "/v2/post/publish/content/init/",
            headers,
            {
                "media_type": "PHOTO",
                "post_mode": "DIRECT_POST",
                "post_info": {
                    "title": "Three photos",
                    "description": "A carousel from the sandbox #photo",
                    "privacy_level": info["privacy_level_options"][0],
                    "disable_comment": False,
                    "auto_add_music": True,
                    "brand_content_toggle": False,
                    "brand_organic_toggle": False,
                },
                "source_info": {
                    "source": "PULL_FROM_URL",
                    "photo_images": [f"{tt.media_base}photo{i}.img" for i in range(3)],
                    "photo_cover_index": 1,
                },
            },
        )
        assert init.status_code == 200, init.text
        publish_id = init.json()["data"]["publish_id"]
        status = await poll(tt, headers, publish_id, {"PUBLISH_COMPLETE", "FAILED"})
        assert status["status"] == "PUBLISH_COMPLETE"
        assert status["downloaded_bytes"] == sum(len(p) for p in photos)
        [received] = await tt.posts()
        assert received["photo_count"] == 3
        assert received["photo_cover_index"] == 1
        assert received["media_sha256"] == [hashlib.sha256(p).hexdigest() for p in photos]
        assert tt.helper.requested == ["photo0.img", "photo1.img", "photo2.img"]


class TestPlainClient:
    async def test_any_http_client_works(self, sandbox_client: httpx.AsyncClient) -> None:
        # No helpers: what a third-party client sees before it has a token.
        response = await sandbox_client.post("/v2/post/publish/creator_info/query/", json={})
        assert response.status_code == 401
        assert response.json()["data"] == {}
        assert response.json()["error"]["code"] == "access_token_invalid"
