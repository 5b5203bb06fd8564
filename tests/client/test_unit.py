"""The client's own rules without a server: configuration, retries, idempotency keys, the
error hierarchy, and what importing it loads."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from zakipost.client import (
    Client,
    ConfigurationError,
    RateLimited,
    ServerError,
    TransportError,
    ZakiPostError,
)
from zakipost.client._base import ClientConfig

PAIR = {"client_key": "zp_key_" + "a" * 32, "client_secret": "s" * 40}


def ok(data: object) -> httpx.Response:
    return httpx.Response(200, json={"success": True, "message": "OK", "data": data})


def error(status: int, code: str, **headers: str) -> httpx.Response:
    body = {"success": False, "message": f"{code} happened", "code": code, "details": {"x": 1}}
    return httpx.Response(status, json=body, headers=headers)


class TestConfig:
    def test_the_environment_configures_the_pair(self) -> None:
        env = {
            "ZAKIPOST_API_URL": "https://zp.example.com/",
            "ZAKIPOST_CLIENT_KEY": "k",
            "ZAKIPOST_CLIENT_SECRET": "s",
        }
        config = ClientConfig.resolve(
            base_url=None, client_key=None, client_secret=None, api_key=None, env=env
        )
        assert config.base_url == "https://zp.example.com"
        assert config.headers["X-ZakiPost-Client-Key"] == "k"
        assert config.headers["X-ZakiPost-Client-Secret"] == "s"
        assert "Authorization" not in config.headers

    def test_a_named_key_is_a_bearer_token(self) -> None:
        config = ClientConfig.resolve(
            base_url=None,
            client_key=None,
            client_secret=None,
            api_key=None,
            env={"ZAKIPOST_API_KEY": "zp_sk_abc"},
        )
        assert config.headers["Authorization"] == "Bearer zp_sk_abc"
        assert config.base_url == "http://127.0.0.1:8000"

    def test_arguments_win_over_the_environment(self) -> None:
        config = ClientConfig.resolve(
            base_url="http://h:1",
            client_key=None,
            client_secret=None,
            api_key="zp_sk_arg",
            env={"ZAKIPOST_CLIENT_KEY": "k", "ZAKIPOST_CLIENT_SECRET": "s"},
        )
        assert config.headers["Authorization"] == "Bearer zp_sk_arg"
        assert "X-ZakiPost-Client-Key" not in config.headers

    @pytest.mark.parametrize(
        "env",
        [
            {},
            {"ZAKIPOST_CLIENT_KEY": "k"},
            {"ZAKIPOST_API_URL": "ftp://x", "ZAKIPOST_API_KEY": "k"},
        ],
    )
    def test_missing_or_bad_configuration_is_refused(self, env: dict[str, str]) -> None:
        with pytest.raises(ConfigurationError):
            ClientConfig.resolve(
                base_url=None, client_key=None, client_secret=None, api_key=None, env=env
            )


def client_over(handler, sleeps: list[float], **options: object) -> Client:  # type: ignore[no-untyped-def]
    return Client(
        "http://zp.test",
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        **PAIR,
        **options,
    )


class TestRetries:
    def test_429_is_retried_after_retry_after_with_the_same_idempotency_key(self) -> None:
        keys: list[str] = []
        answers = [error(429, "rate_limited", **{"Retry-After": "3"}), error(503, "busy")]

        def handler(request: httpx.Request) -> httpx.Response:
            keys.append(request.headers["Idempotency-Key"])
            return answers.pop(0) if answers else ok({"publish_id": "v_pub_1"})

        sleeps: list[float] = []
        with client_over(handler, sleeps) as client:
            accepted = client.publish_video("acc", video_url="https://example.com/a.mp4")
        assert accepted.publish_id == "v_pub_1"
        assert len(keys) == 3 and len(set(keys)) == 1
        assert sleeps[0] == 3.0 and len(sleeps) == 2

    def test_each_publish_gets_its_own_key(self) -> None:
        keys: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            keys.append(request.headers["Idempotency-Key"])
            return ok({"publish_id": "v_pub_1"})

        with client_over(handler, []) as client:
            client.publish_video("acc", video_url="https://example.com/a.mp4")
            client.publish_video("acc", video_url="https://example.com/a.mp4")
        assert keys[0] != keys[1]

    def test_rate_limited_after_the_retries_carries_retry_after(self) -> None:
        sleeps: list[float] = []
        with (
            client_over(
                lambda r: error(429, "rate_limited", **{"Retry-After": "120"}),
                sleeps,
                max_retries=2,
            ) as client,
            pytest.raises(RateLimited) as limited,
        ):
            client.account()
        assert limited.value.retry_after == 120.0
        assert limited.value.details == {"x": 1}
        # Bounded: two retries, each wait capped at a minute whatever the server says.
        assert sleeps == [60.0, 60.0]

    def test_a_5xx_on_a_request_not_safe_to_resend_is_not_retried(self) -> None:
        calls: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(request.url.path)
            return error(500, "internal_error")

        with client_over(handler, []) as client, pytest.raises(ServerError) as failed:
            client.create_key("ci")
        assert calls == ["/v1/api-keys"]
        assert failed.value.code == "internal_error"
        assert isinstance(failed.value, ZakiPostError)

    def test_an_unreachable_server_is_a_transport_error(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        sleeps: list[float] = []
        with client_over(handler, sleeps) as client, pytest.raises(TransportError):
            client.get_post("v_pub_1")
        assert len(sleeps) == 3

    def test_answers_from_a_newer_server_with_extra_fields_are_read(self) -> None:
        post = {
            "publish_id": "v_pub_1",
            "tiktok_account_id": "acc",
            "kind": "video",
            "post_mode": "direct",
            "status": "published",
            "step": "done",
            "title": None,
            "privacy_level": "SELF_ONLY",
            "scheduled_at": None,
            "run_at": None,
            "created_at": "2026-12-01T10:00:00Z",
            "finished_at": "2026-12-01T10:00:10Z",
            "tiktok_publish_id": "t1",
            "tiktok_post_ids": [],
            "tiktok_status": "PUBLISH_COMPLETE",
            "points_cost": 400,
            "error": None,
            "post_url": "https://www.tiktok.com/@a/video/1",
            "points_charged": 400,
        }
        with client_over(lambda r: ok(post), []) as client:
            assert client.get_post("v_pub_1").status == "published"


def test_importing_the_client_and_the_cli_loads_no_server_stack() -> None:
    code = (
        "import json, sys, zakipost.client, zakipost.cli;"
        "heavy = ('sqlalchemy', 'fastapi', 'starlette', 'alembic', 'uvicorn', 'asyncpg', 'mcp');"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or m.startswith(('zakipost.models', 'zakipost.db', 'zakipost.sandbox', 'zakipost.main')))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout) == []
