"""Status progression (§3.8, §13): immediate, manual and time modes; inbox drafts; pulls."""

from __future__ import annotations

import json
import re
from typing import Any

from .driver import PUBLIC, SELF_ONLY, Driver
from .media import make_photo, make_video

VIDEO_INIT = "/v2/post/publish/video/init/"


async def events(tt: Driver, publish_id: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for delivery in await tt.webhooks():
        content = json.loads(delivery["body"]["content"])
        if content.get("publish_id") == publish_id and delivery["duplicate_of"] is None:
            found.append((delivery["event"], content))
    return found


class TestImmediate:
    async def test_public_direct_post(self, tt: Driver) -> None:
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers)
        status = await tt.status(headers, publish_id)
        assert status["status"] == "PUBLISH_COMPLETE"
        [post_id] = status["publicaly_available_post_id"]
        assert isinstance(post_id, int)
        assert len(str(post_id)) == 19
        assert [e for e, _ in await events(tt, publish_id)] == [
            "post.publish.complete",
            "post.publish.publicly_available",
        ]

    async def test_post_ids_are_bare_19_digit_integers(self, tt: Driver) -> None:
        # Observed (§2.0): `[7678907398077074696]`, not strings; exact in the raw JSON.
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers)
        response = await tt.api(
            "/v2/post/publish/status/fetch/", headers, {"publish_id": publish_id}
        )
        found = re.search(r'"publicaly_available_post_id":\[(\d{19})\]', response.text)
        assert found is not None, response.text
        assert [int(found.group(1))] == (await tt.post(publish_id))["post_ids"]

    async def test_self_only_never_gets_a_post_id(self, tt: Driver) -> None:
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers, post_info=SELF_ONLY)
        status = await tt.status(headers, publish_id)
        assert status["status"] == "PUBLISH_COMPLETE"
        assert status["publicaly_available_post_id"] == []
        assert (await tt.post(publish_id))["post_ids"]  # a post exists, just not public

    async def test_forced_fail_reason(self, tt: Driver) -> None:
        await tt.control("POST", "faults/fail-next", json={"fail_reason": "spam_risk_text"})
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers)
        status = await tt.status(headers, publish_id)
        assert status["status"] == "FAILED"
        assert status["fail_reason"] == "spam_risk_text"
        [(event, content)] = await events(tt, publish_id)
        assert event == "post.publish.failed"
        assert content == {
            "publish_id": publish_id,
            "publish_type": "DIRECT_PUBLISH",
            "reason": "spam_risk_text",
        }
        # Only the next publish fails.
        other = await tt.upload_video(headers)
        assert (await tt.status(headers, other))["status"] == "PUBLISH_COMPLETE"

    async def test_forced_fail_reason_for_one_creator(self, tt: Driver) -> None:
        await tt.control(
            "POST", "faults/fail-next", json={"fail_reason": "internal", "creator": "quiet.creator"}
        )
        headers = await tt.auth()
        assert (await tt.status(headers, await tt.upload_video(headers)))[
            "status"
        ] == "PUBLISH_COMPLETE"
        quiet = await tt.auth("quiet.creator")
        assert (await tt.status(quiet, await tt.upload_video(quiet)))["fail_reason"] == "internal"


class TestManual:
    async def test_step_by_step(self, tt: Driver) -> None:
        await tt.configure(progression="manual")
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers)
        assert (await tt.status(headers, publish_id))["status"] == "PROCESSING_UPLOAD"
        step = await tt.control("POST", f"posts/{publish_id}/advance")
        assert step["step"] == "processed"
        status = await tt.status(headers, publish_id)
        # Complete, but a public post only gets its id after moderation.
        assert status["status"] == "PUBLISH_COMPLETE"
        assert status["publicaly_available_post_id"] == []
        assert (await tt.control("POST", f"posts/{publish_id}/advance"))["step"] == "moderated"
        assert len((await tt.status(headers, publish_id))["publicaly_available_post_id"]) == 1
        nothing = await tt.http.post(f"/_sandbox/posts/{publish_id}/advance")
        assert nothing.status_code == 409

    async def test_cannot_advance_before_upload(self, tt: Driver) -> None:
        await tt.configure(progression="manual")
        headers = await tt.auth()
        init = await tt.init_file(headers, 1000)
        publish_id = init.json()["data"]["publish_id"]
        assert (await tt.http.post(f"/_sandbox/posts/{publish_id}/advance")).status_code == 409
        assert (await tt.http.post("/_sandbox/posts/nope/advance")).status_code == 404

    async def test_pull_waits_for_advance(self, tt: Driver) -> None:
        await tt.configure(progression="manual")
        data = make_video()
        tt.helper.media["v.mp4"] = data
        headers = await tt.auth()
        body = {
            "post_info": PUBLIC,
            "source_info": {"source": "PULL_FROM_URL", "video_url": f"{tt.media_base}v.mp4"},
        }
        publish_id = (await tt.api(VIDEO_INIT, headers, body)).json()["data"]["publish_id"]
        assert await tt.status(headers, publish_id) == {
            "status": "PROCESSING_DOWNLOAD",
            "publicaly_available_post_id": [],
            "downloaded_bytes": 0,
        }
        assert tt.helper.requested == []
        result = await tt.control("POST", f"posts/{publish_id}/complete")
        assert result["steps"] == ["downloaded", "processed", "moderated"]
        status = await tt.status(headers, publish_id)
        assert status["status"] == "PUBLISH_COMPLETE"
        assert status["downloaded_bytes"] == len(data)


class TestTime:
    async def test_processing_then_moderation_delays(self, tt: Driver) -> None:
        await tt.configure(
            progression="time", processing_delay_seconds=2.0, moderation_delay_seconds=30.0
        )
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers)
        assert (await tt.status(headers, publish_id))["status"] == "PROCESSING_UPLOAD"
        await tt.advance_clock(1.5)
        assert (await tt.status(headers, publish_id))["status"] == "PROCESSING_UPLOAD"
        await tt.advance_clock(1.0)
        status = await tt.status(headers, publish_id)
        assert status["status"] == "PUBLISH_COMPLETE"
        assert status["publicaly_available_post_id"] == []
        await tt.advance_clock(30)
        assert len((await tt.status(headers, publish_id))["publicaly_available_post_id"]) == 1
        assert [e for e, _ in await events(tt, publish_id)] == [
            "post.publish.complete",
            "post.publish.publicly_available",
        ]

    async def test_inbox_autopost(self, tt: Driver) -> None:
        await tt.configure(progression="time", inbox_autopost_seconds=10.0)
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers, inbox=True)
        await tt.advance_clock(3)
        assert (await tt.status(headers, publish_id))["status"] == "SEND_TO_USER_INBOX"
        await tt.advance_clock(10)
        assert (await tt.status(headers, publish_id))["status"] == "PUBLISH_COMPLETE"


class TestInbox:
    async def test_draft_lifecycle(self, tt: Driver) -> None:
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers, inbox=True)
        status = await tt.status(headers, publish_id)
        assert status["status"] == "SEND_TO_USER_INBOX"
        first = await tt.control(
            "POST", f"posts/{publish_id}/post-draft", json={"privacy_level": "PUBLIC_TO_EVERYONE"}
        )
        status = await tt.status(headers, publish_id)
        assert status["status"] == "PUBLISH_COMPLETE"
        assert status["publicaly_available_post_id"] == [first["post_id"]]
        # A draft can yield several posts.
        second = await tt.control(
            "POST", f"posts/{publish_id}/post-draft", json={"privacy_level": "PUBLIC_TO_EVERYONE"}
        )
        assert (await tt.status(headers, publish_id))["publicaly_available_post_id"] == [
            first["post_id"],
            second["post_id"],
        ]
        names = [e for e, _ in await events(tt, publish_id)]
        assert names == [
            "post.publish.inbox_delivered",
            "post.publish.complete",
            "post.publish.publicly_available",
            "post.publish.complete",
            "post.publish.publicly_available",
        ]
        assert all(c["publish_type"] == "INBOX_SHARE" for _, c in await events(tt, publish_id))

    async def test_private_draft_post(self, tt: Driver) -> None:
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers, inbox=True)
        await tt.control(
            "POST", f"posts/{publish_id}/post-draft", json={"privacy_level": "SELF_ONLY"}
        )
        status = await tt.status(headers, publish_id)
        assert status["status"] == "PUBLISH_COMPLETE"
        assert status["publicaly_available_post_id"] == []

    async def test_no_draft_for_direct_posts(self, tt: Driver) -> None:
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers)
        assert (
            await tt.http.post(f"/_sandbox/posts/{publish_id}/post-draft", json={})
        ).status_code == 409

    async def test_photo_media_upload(self, tt: Driver) -> None:
        tt.helper.media["a.jpg"] = make_photo()
        headers = await tt.auth()
        body = {
            "media_type": "PHOTO",
            "post_mode": "MEDIA_UPLOAD",
            "post_info": {"privacy_level": "SELF_ONLY", "title": "draft"},
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_images": [f"{tt.media_base}a.jpg"],
                "photo_cover_index": 0,
            },
        }
        publish_id = (await tt.api("/v2/post/publish/content/init/", headers, body)).json()["data"][
            "publish_id"
        ]
        await tt.settle()
        assert (await tt.status(headers, publish_id))["status"] == "SEND_TO_USER_INBOX"


class TestPulls:
    async def test_redirect_is_a_failed_pull(self, tt: Driver) -> None:
        tt.helper.media["real.mp4"] = make_video()
        tt.helper.redirects["moved.mp4"] = f"{tt.media_base}real.mp4"
        headers = await tt.auth()
        body = {
            "post_info": PUBLIC,
            "source_info": {"source": "PULL_FROM_URL", "video_url": f"{tt.media_base}moved.mp4"},
        }
        publish_id = (await tt.api(VIDEO_INIT, headers, body)).json()["data"]["publish_id"]
        await tt.settle()
        status = await tt.status(headers, publish_id)
        assert status["status"] == "FAILED"
        assert status["fail_reason"] == "video_pull_failed"
        assert tt.helper.requested == ["moved.mp4"]

    async def test_missing_media(self, tt: Driver) -> None:
        headers = await tt.auth()
        body = {
            "post_info": PUBLIC,
            "source_info": {"source": "PULL_FROM_URL", "video_url": f"{tt.media_base}gone.mp4"},
        }
        publish_id = (await tt.api(VIDEO_INIT, headers, body)).json()["data"]["publish_id"]
        await tt.settle()
        assert (await tt.status(headers, publish_id))["fail_reason"] == "video_pull_failed"

    async def test_missing_photo(self, tt: Driver) -> None:
        headers = await tt.auth()
        body = {
            "media_type": "PHOTO",
            "post_mode": "DIRECT_POST",
            "post_info": PUBLIC,
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_images": [f"{tt.media_base}gone.jpg"],
                "photo_cover_index": 0,
            },
        }
        publish_id = (await tt.api("/v2/post/publish/content/init/", headers, body)).json()["data"][
            "publish_id"
        ]
        await tt.settle()
        assert (await tt.status(headers, publish_id))["fail_reason"] == "photo_pull_failed"

    async def test_pull_timeout(self, tt: Driver) -> None:
        await tt.configure(pull_timeout_seconds=0.05)
        tt.helper.media["slow.mp4"] = make_video()
        tt.helper.hold("slow.mp4")  # never released: the download stalls
        headers = await tt.auth()
        body = {
            "post_info": PUBLIC,
            "source_info": {"source": "PULL_FROM_URL", "video_url": f"{tt.media_base}slow.mp4"},
        }
        publish_id = (await tt.api(VIDEO_INIT, headers, body)).json()["data"]["publish_id"]
        await tt.settle()
        status = await tt.status(headers, publish_id)
        assert status["status"] == "FAILED" and status["fail_reason"] == "video_pull_failed"

    async def test_media_can_be_discarded(self, tt: Driver) -> None:
        await tt.configure(keep_media=False)
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers)
        post = await tt.post(publish_id)
        assert post["status"] == "PUBLISH_COMPLETE" and post["media_sha256"]
        assert (await tt.http.get(f"/_sandbox/posts/{publish_id}/media/0")).status_code == 404

    async def test_pull_records_bytes_and_hash(self, tt: Driver) -> None:
        import hashlib

        data = make_video()
        tt.helper.media["v.mp4"] = data
        headers = await tt.auth()
        body = {
            "post_info": PUBLIC,
            "source_info": {"source": "PULL_FROM_URL", "video_url": f"{tt.media_base}v.mp4"},
        }
        publish_id = (await tt.api(VIDEO_INIT, headers, body)).json()["data"]["publish_id"]
        await tt.settle()
        post = await tt.post(publish_id)
        assert post["status"] == "PUBLISH_COMPLETE"
        assert post["media_size"] == len(data)
        assert post["downloaded_bytes"] == len(data)
        assert post["media_sha256"] == hashlib.sha256(data).hexdigest()
        assert post["video"]["codec"] == "h264"


class TestAuthRemoved:
    async def test_in_flight_publish_fails(self, tt: Driver) -> None:
        headers = await tt.auth()
        init = (await tt.init_file(headers, len(make_video()))).json()["data"]
        revoked = await tt.control("POST", "creators/sandbox.creator/revoke", json={"reason": 1})
        assert revoked == {"revoked_grants": 1}
        post = await tt.post(init["publish_id"])
        assert post["status"] == "FAILED"
        assert post["fail_reason"] == "auth_removed"
        upload = await tt.put_all(init["upload_url"], make_video())
        assert upload[0].status_code == 404
        names = [d["event"] for d in await tt.webhooks()]
        assert names == ["authorization.removed", "post.publish.failed"]


class TestTakeDown:
    async def test_no_longer_publicly_available(self, tt: Driver) -> None:
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers)
        removed = await tt.control("POST", f"posts/{publish_id}/take-down")
        assert len(removed["post_ids"]) == 1
        assert (await tt.status(headers, publish_id))["publicaly_available_post_id"] == []
        event, content = (await events(tt, publish_id))[-1]
        # The developers docs' misspelling, by default.
        assert event == "post.publish.no_longer_publicaly_available"
        assert content["post_id"] == str(removed["post_ids"][0])

    async def test_spelling_is_configurable(self, tt: Driver) -> None:
        await tt.configure(no_longer_available_spelling="publicly")
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers)
        await tt.control("POST", f"posts/{publish_id}/take-down")
        assert (await events(tt, publish_id))[-1][0] == "post.publish.no_longer_publicly_available"
