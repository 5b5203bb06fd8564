"""Webhook signature verification and event parsing (§8)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from tests.tiktok.conftest import CLIENT_SECRET
from zakipost.tiktok import (
    InvalidWebhook,
    TikTokClient,
    WebhookEventName,
    parse_webhook,
    verify_webhook_signature,
)

CAPTURED = (
    b'{"client_key": "awomwh5h2fju7zt3", "event": "post.publish.publicly_available", '
    b'"create_time": 1770210873, "user_openid": "-000YSS_OTWKQzsQ-Q6fwsK_A1CTqKopVfCO", '
    b'"content": "{\\"publish_id\\":\\"v_pub_file~v2-1.7602997070760331285\\",'
    b'\\"publish_type\\":\\"DIRECT_PUBLISH\\",\\"post_id\\":\\"7602997517160123666\\"}"}'
)
T = 1770210873


def sign(body: bytes, *, t: int = T, secret: str = CLIENT_SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},s={digest}"


def envelope(event: str, content: dict | str) -> bytes:
    text = content if isinstance(content, str) else json.dumps(content)
    return json.dumps(
        {"client_key": "k", "event": event, "create_time": T, "user_openid": "u", "content": text}
    ).encode()


class TestVerifyWebhookSignature:
    def test_accepts_a_valid_signature(self) -> None:
        assert verify_webhook_signature(sign(CAPTURED), CAPTURED, CLIENT_SECRET, now=T + 10)

    def test_accepts_a_datetime_now_and_str_body(self) -> None:
        now = datetime.fromtimestamp(T + 299, tz=UTC)
        header = sign(CAPTURED).replace(",", " , ").upper().replace("T=", "t=").replace("S=", "s=")
        assert verify_webhook_signature(header, CAPTURED.decode(), CLIENT_SECRET, now=now)

    def test_client_method_uses_its_secret(self, client: TikTokClient) -> None:
        assert client.verify_webhook(sign(CAPTURED), CAPTURED, now=T)

    @pytest.mark.parametrize(
        ("header", "body", "now"),
        [
            (sign(CAPTURED), CAPTURED + b" ", T),
            (sign(CAPTURED, secret="other"), CAPTURED, T),
            (sign(CAPTURED), CAPTURED, T + 301),
            (sign(CAPTURED), CAPTURED, T - 301),
            (None, CAPTURED, T),
            ("", CAPTURED, T),
            ("t=abc,s=00", CAPTURED, T),
            (f"t={T}", CAPTURED, T),
            ("garbage", CAPTURED, T),
            (f"t={T},s=é", CAPTURED, T),
        ],
        ids=[
            "tampered",
            "wrong-secret",
            "too-old",
            "from-the-future",
            "absent",
            "empty",
            "bad-timestamp",
            "no-signature",
            "garbage",
            "non-ascii",
        ],
    )
    def test_rejects(self, header: str | None, body: bytes, now: int) -> None:
        assert not verify_webhook_signature(header, body, CLIENT_SECRET, now=now)

    def test_tolerance_is_configurable(self) -> None:
        assert verify_webhook_signature(
            sign(CAPTURED), CAPTURED, CLIENT_SECRET, now=T + 3600, tolerance=3600
        )


class TestParseWebhook:
    def test_captured_publicly_available_event(self) -> None:
        event = parse_webhook(CAPTURED)
        assert event.event == WebhookEventName.POST_PUBLISH_PUBLICLY_AVAILABLE
        assert event.client_key == "awomwh5h2fju7zt3"
        assert event.create_time == T
        assert event.user_openid == "-000YSS_OTWKQzsQ-Q6fwsK_A1CTqKopVfCO"
        assert event.publish_id == "v_pub_file~v2-1.7602997070760331285"
        assert (event.publish_type, event.post_id) == ("DIRECT_PUBLISH", "7602997517160123666")

    @pytest.mark.parametrize(
        "name",
        [
            "post.publish.no_longer_publicaly_available",
            "post.publish.no_longer_publicly_available",
        ],
    )
    def test_both_spellings_of_no_longer_available(self, name: str) -> None:
        event = parse_webhook(envelope(name, {"publish_id": "p", "post_id": 7602997517160123666}))
        assert event.event == WebhookEventName.POST_PUBLISH_NO_LONGER_PUBLICLY_AVAILABLE
        assert event.post_id == "7602997517160123666"

    def test_failed_event_has_a_fail_reason(self) -> None:
        event = parse_webhook(
            envelope("post.publish.failed", {"publish_id": "p", "reason": "auth_removed"})
        )
        assert (event.fail_reason, event.removal_reason) == ("auth_removed", None)

    def test_authorization_removed_reason(self) -> None:
        event = parse_webhook(envelope("authorization.removed", '{"reason": 1 }'))
        assert (event.removal_reason, event.fail_reason, event.publish_id) == (1, None, None)

    def test_unknown_events_are_kept(self) -> None:
        event = parse_webhook(envelope("something.new", {}))
        assert event.event == "something.new"
        assert event.content == {}

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"[1, 2]",
            envelope("post.publish.complete", "{not json"),
            envelope("post.publish.complete", "[1]"),
            b'{"client_key": "k", "content": "{}"}',
        ],
        ids=["not-json", "not-object", "content-not-json", "content-not-object", "no-event"],
    )
    def test_rejects_invalid_bodies(self, body: bytes) -> None:
        with pytest.raises(InvalidWebhook):
            parse_webhook(body)
