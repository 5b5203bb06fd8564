"""Webhooks (§8): envelope, TikTok-Signature, retries with backoff, duplicates."""

from __future__ import annotations

import hashlib
import hmac
import json

from .driver import Driver


def verify(secret: str, header: str, body: str) -> int:
    """What a receiver does: split on ',', then '='; HMAC-SHA256(secret, t + '.' + body)."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, parts["s"])
    return int(parts["t"])


class TestDelivery:
    async def test_envelope_and_signature(self, tt: Driver) -> None:
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers)
        await tt.settle()
        received = tt.helper.hooks
        assert len(received) == 2
        open_id = (await tt.creators())["sandbox.creator"]["open_id"]
        clock = (await tt.control("GET", "clock"))["timestamp"]
        for hook in received:
            assert hook.headers["content-type"] == "application/json"
            timestamp = verify(tt.config.client_secret, hook.headers["tiktok-signature"], hook.body)
            assert timestamp == int(clock)
            body = json.loads(hook.body)
            assert set(body) == {"client_key", "event", "create_time", "user_openid", "content"}
            assert body["client_key"] == tt.config.client_key
            assert body["user_openid"] == open_id
            assert body["create_time"] == int(clock)
            assert isinstance(body["content"], str)  # a JSON string to parse again
        complete, public = (json.loads(h.body) for h in received)
        assert complete["event"] == "post.publish.complete"
        assert json.loads(complete["content"]) == {
            "publish_id": publish_id,
            "publish_type": "DIRECT_PUBLISH",
        }
        assert public["event"] == "post.publish.publicly_available"
        content = json.loads(public["content"])
        [post_id] = (await tt.status(headers, publish_id))["publicaly_available_post_id"]
        # The post id is a string in webhooks (an int64 in status fetch).
        assert content == {
            "publish_id": publish_id,
            "publish_type": "DIRECT_PUBLISH",
            "post_id": str(post_id),
        }

    async def test_tampered_body_fails_verification(self, tt: Driver) -> None:
        await tt.upload_video(await tt.auth())
        await tt.settle()
        hook = tt.helper.hooks[0]
        parts = dict(item.split("=", 1) for item in hook.headers["tiktok-signature"].split(","))
        forged = hmac.new(
            b"wrong", f"{parts['t']}.{hook.body}".encode(), hashlib.sha256
        ).hexdigest()
        assert forged != parts["s"]

    async def test_authorization_removed(self, tt: Driver) -> None:
        await tt.auth("quiet.creator")
        await tt.control("POST", "creators/quiet.creator/revoke", json={"reason": 4})
        await tt.settle()
        [hook] = tt.helper.hooks
        body = json.loads(hook.body)
        assert body["event"] == "authorization.removed"
        assert json.loads(body["content"]) == {"reason": 4}
        assert body["user_openid"] == (await tt.creators())["quiet.creator"]["open_id"]

    async def test_revoking_a_creator_without_consent_is_silent(self, tt: Driver) -> None:
        assert await tt.control("POST", "creators/quiet.creator/revoke", json={}) == {
            "revoked_grants": 0
        }
        assert await tt.webhooks() == []


class TestRetries:
    async def test_non_200_is_retried_until_200(self, tt: Driver) -> None:
        tt.helper.hook_statuses.extend([500, 204, 503])
        await tt.auth()
        await tt.control("POST", "creators/sandbox.creator/revoke", json={})
        [delivery] = await tt.webhooks()
        assert delivery["state"] == "delivered"
        assert [a["status"] for a in delivery["attempts"]] == [500, 204, 503, 200]
        assert len(tt.helper.hooks) == 4
        assert len({h.body for h in tt.helper.hooks}) == 1

    async def test_dropped_after_the_retry_budget(self, tt: Driver) -> None:
        tt.helper.hook_statuses.extend([500] * 10)
        await tt.auth()
        await tt.control("POST", "creators/sandbox.creator/revoke", json={})
        [delivery] = await tt.webhooks()
        assert delivery["state"] == "dropped"
        assert len(delivery["attempts"]) == 4  # webhook_max_attempts in the test config

    async def test_retry_window_bounds_attempts(self, tt: Driver) -> None:
        # 0.001 s doubling: 0.001 + 0.002 + 0.004 fit a 0.008 s window, the next wait does not.
        await tt.configure(webhook_max_attempts=None, webhook_retry_window_seconds=0.008)
        tt.helper.hook_statuses.extend([500] * 10)
        await tt.auth()
        await tt.control("POST", "creators/sandbox.creator/revoke", json={})
        [delivery] = await tt.webhooks()
        assert delivery["state"] == "dropped"
        assert len(delivery["attempts"]) == 4

    async def test_unreachable_receiver(self, tt: Driver) -> None:
        await tt.configure(webhook_url=f"{tt.helper_base}/nowhere")
        await tt.auth()
        await tt.control("POST", "creators/sandbox.creator/revoke", json={})
        [delivery] = await tt.webhooks()
        assert delivery["state"] == "dropped"
        assert {a["status"] for a in delivery["attempts"]} == {404}


class TestDuplicates:
    async def test_duplicate_delivery(self, tt: Driver) -> None:
        await tt.configure(webhook_duplicate_rate=1.0)
        await tt.auth()
        await tt.control("POST", "creators/sandbox.creator/revoke", json={})
        deliveries = await tt.webhooks()
        assert len(deliveries) == 2
        assert deliveries[1]["duplicate_of"] == deliveries[0]["id"]
        assert len(tt.helper.hooks) == 2
        assert tt.helper.hooks[0].body == tt.helper.hooks[1].body


class TestNoUrl:
    async def test_events_are_still_logged(self, tt: Driver) -> None:
        await tt.configure(webhook_url=None)
        await tt.auth()
        await tt.control("POST", "creators/sandbox.creator/revoke", json={})
        [delivery] = await tt.webhooks()
        assert delivery["state"] == "undeliverable"
        assert delivery["event"] == "authorization.removed"
        assert tt.helper.hooks == []
