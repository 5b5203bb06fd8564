"""The app as a component: public interface, mounting, config, Python control API, isolation."""

from __future__ import annotations

import ast
import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import zakipost.sandbox
from zakipost.sandbox import ManualClock, Sandbox, SandboxConfig, create_sandbox_app, describe

from .driver import PUBLIC, form_fields
from .media import make_video

PACKAGE = Path(zakipost.sandbox.__file__).parent


def client_for(app, base: str = "http://sandbox.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base)


class TestPublicInterface:
    def test_exports(self) -> None:
        for name in ("create_sandbox_app", "SandboxConfig", "Sandbox", "describe"):
            assert name in zakipost.sandbox.__all__
        assert zakipost.sandbox.__all__ == sorted(zakipost.sandbox.__all__)

    def test_app_state(self) -> None:
        app = create_sandbox_app()
        assert isinstance(app.state.sandbox, Sandbox)
        assert app.state.sandbox.config == SandboxConfig()

    def test_imports_nothing_else_from_zakipost(self) -> None:
        for path in PACKAGE.rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    assert not name.startswith("zakipost") or name.startswith("zakipost.sandbox"), (
                        path,
                        name,
                    )

    def test_files_stay_small(self) -> None:
        for path in PACKAGE.rglob("*.py"):
            assert len(path.read_text().splitlines()) <= 400, path

    def test_default_app_key(self) -> None:
        config = SandboxConfig()
        assert config.client_key.startswith("sbaw")
        assert len(config.client_key) == 18
        assert config.redirect_uris == [
            "http://127.0.0.1:8000/connect/tiktok/callback",
            "http://localhost:8000/connect/tiktok/callback",
        ]
        assert config.audited is True
        assert config.daily_post_cap == 15
        assert config.pending_share_cap == 5


class TestConfig:
    def test_from_env(self) -> None:
        config = SandboxConfig.from_env(
            {
                "ZAKIPOST_SANDBOX_PROGRESSION": "manual",
                "ZAKIPOST_SANDBOX_AUDITED": "false",
                "ZAKIPOST_SANDBOX_DAILY_POST_CAP": "3",
                "ZAKIPOST_SANDBOX_MODERATION_DELAY_SECONDS": "0.5",
                "ZAKIPOST_SANDBOX_REDIRECT_URIS": "https://a.example/cb, https://b.example/cb",
                "ZAKIPOST_SANDBOX_VERIFIED_URL_PREFIXES": '["https://cdn.example/media/"]',
                "ZAKIPOST_SANDBOX_WEBHOOK_URL": "http://127.0.0.1:8000/hooks",
                "ZAKIPOST_SANDBOX_SEED": "7",
                "ZAKIPOST_SANDBOX_RATE_LIMITS": '{"video.init": 2}',
                "ZAKIPOST_SANDBOX_INBOX_AUTOPOST_SECONDS": "",
                "UNRELATED": "x",
            }
        )
        assert config.progression == "manual"
        assert config.audited is False
        assert config.daily_post_cap == 3
        assert config.moderation_delay_seconds == 0.5
        assert config.redirect_uris == ["https://a.example/cb", "https://b.example/cb"]
        assert config.verified_url_prefixes == ["https://cdn.example/media/"]
        assert config.webhook_url == "http://127.0.0.1:8000/hooks"
        assert config.seed == 7
        assert config.rate_limits == {"video.init": 2}
        assert config.inbox_autopost_seconds is None

    @pytest.mark.parametrize(
        "env",
        [
            {"ZAKIPOST_SANDBOX_PROGRESSION": "sometimes"},
            {"ZAKIPOST_SANDBOX_DAILY_POST_CAP": "many"},
            {"ZAKIPOST_SANDBOX_MB_UNIT": "octal"},
        ],
    )
    def test_bad_env(self, env: dict[str, str]) -> None:
        with pytest.raises(ValueError):  # noqa: PT011
            SandboxConfig.from_env(env)

    async def test_patch_validates(self) -> None:
        async with client_for(create_sandbox_app()) as client:
            assert (
                await client.patch("/_sandbox/config", json={"progression": "never"})
            ).status_code == 400
            assert (await client.patch("/_sandbox/config", json={"nope": 1})).status_code == 400
            assert (
                await client.patch("/_sandbox/config", json={"client_key": "x"})
            ).status_code == 400
            ok = await client.patch("/_sandbox/config", json={"daily_post_cap": 2})
            assert ok.json()["daily_post_cap"] == 2
            await client.post("/_sandbox/reset")
            assert (await client.get("/_sandbox/config")).json()["daily_post_cap"] == 15


class TestMounted:
    async def test_urls_follow_the_mount(self) -> None:
        sandbox_app = create_sandbox_app(
            SandboxConfig(progression="immediate"), clock=ManualClock()
        )
        parent = Starlette(routes=[Mount("/sandbox", app=sandbox_app)])
        async with client_for(parent, "http://gateway.test") as client:
            params = {
                "client_key": "sbawzakipostsandbx",
                "scope": "video.publish",
                "redirect_uri": "http://127.0.0.1:8000/connect/tiktok/callback",
                "state": "s",
                "response_type": "code",
            }
            page = await client.get("/sandbox/v2/auth/authorize/", params=params)
            action, fields = form_fields(page.text)
            assert action.startswith("http://gateway.test/sandbox/v2/auth/authorize/?")
            answer = await client.post(action, data={**fields, "decision": "approve"})
            assert answer.status_code == 302
            token = (await client.post("/sandbox/_sandbox/tokens", json={})).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            data = make_video()
            init = await client.post(
                "/sandbox/v2/post/publish/video/init/",
                headers=headers,
                json={
                    "post_info": PUBLIC,
                    "source_info": {
                        "source": "FILE_UPLOAD",
                        "video_size": len(data),
                        "chunk_size": len(data),
                        "total_chunk_count": 1,
                    },
                },
            )
            upload_url = init.json()["data"]["upload_url"]
            assert upload_url.startswith("http://gateway.test/sandbox/upload/?upload_id=")
            put = await client.put(
                upload_url,
                content=data,
                headers={
                    "Content-Type": "video/mp4",
                    "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}",
                },
            )
            assert put.status_code == 201
            info = await client.post(
                "/sandbox/v2/post/publish/creator_info/query/", headers=headers
            )
            assert info.json()["data"]["creator_avatar_url"].startswith(
                "http://gateway.test/sandbox/_sandbox/"
            )

    async def test_no_slash_redirects(self) -> None:
        async with client_for(create_sandbox_app()) as client:
            response = await client.post("/v2/oauth/token", data={})
            assert response.status_code == 404


class TestCrashes:
    async def test_internal_errors_use_tiktoks_shapes(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        app = create_sandbox_app()
        sb: Sandbox = app.state.sandbox

        def boom(*args: object, **kwargs: object) -> None:
            raise RuntimeError("bug")

        monkeypatch.setattr(sb.publishing, "creator_info", boom)
        monkeypatch.setattr(sb.accounts, "token", boom)
        token = sb.issue_token("sandbox.creator")
        async with client_for(app) as client:
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            response = await client.post("/v2/post/publish/creator_info/query/", headers=headers)
            assert response.status_code == 500
            assert response.json()["error"]["code"] == "internal_error"
            assert "bug" not in response.text and "Traceback" not in response.text
            response = await client.post("/v2/oauth/token/", data={"grant_type": "x"})
            assert response.status_code == 500
            assert response.json()["error"] == "server_error"


class TestDescribe:
    def test_contents(self) -> None:
        config = SandboxConfig()
        text = describe(config, "http://127.0.0.1:9000")
        assert "http://127.0.0.1:9000/" in text
        assert config.client_key in text
        assert config.client_secret in text
        for uri in config.redirect_uris:
            assert uri in text
        assert "http://127.0.0.1:9000/v2/auth/authorize/?client_key=sbawzakipostsandbx" in text
        assert "/_sandbox/posts" in text
        assert "/_sandbox/reset" in text


class TestPythonApi:
    async def test_control_without_http(self) -> None:
        clock = ManualClock()
        app = create_sandbox_app(SandboxConfig(progression="manual"), clock=clock)
        sb: Sandbox = app.state.sandbox
        assert next(c.username for c in sb.creators) == "sandbox.creator"
        creator = sb.add_creator(username="extra", is_private=True)
        assert creator.privacy_level_options == [
            "FOLLOWER_OF_CREATOR",
            "MUTUAL_FOLLOW_FRIENDS",
            "SELF_ONLY",
        ]
        token = sb.issue_token("extra", ["video.publish"])
        async with client_for(app) as client:
            data = make_video()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            body = {
                "post_info": {**PUBLIC, "privacy_level": "SELF_ONLY"},
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": len(data),
                    "chunk_size": len(data),
                    "total_chunk_count": 1,
                },
            }
            init = (
                await client.post("/v2/post/publish/video/init/", headers=headers, json=body)
            ).json()["data"]
            await client.put(
                init["upload_url"],
                content=data,
                headers={
                    "Content-Type": "video/mp4",
                    "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}",
                },
            )
        publish_id = init["publish_id"]
        assert sb.publish(publish_id).status == "PROCESSING_UPLOAD"
        assert await sb.complete(publish_id) == ["processed"]
        assert sb.posts()[0]["status"] == "PUBLISH_COMPLETE"
        sb.force_daily_cap("extra")
        assert sb.publishing.daily_cap_reached(sb.creator("extra"))
        assert sb.revoke_creator("extra") == 1
        await sb.settle()
        assert [e["event"] for e in sb.webhooks.events()] == [
            "post.publish.complete",
            "authorization.removed",
        ]
        sb.reset()
        assert sb.posts() == []
        assert len(sb.creators) == 5

    async def test_time_mode_with_a_real_clock(self) -> None:
        # Real time flows: timers tick the progression without any request.
        config = SandboxConfig(processing_delay_seconds=0.05, moderation_delay_seconds=0.05)
        app = create_sandbox_app(config)
        sb: Sandbox = app.state.sandbox
        assert config.progression == "time"
        token = sb.issue_token("sandbox.creator")
        data = make_video()
        async with client_for(app) as client:
            body = {
                "post_info": PUBLIC,
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": len(data),
                    "chunk_size": len(data),
                    "total_chunk_count": 1,
                },
            }
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            init = (
                await client.post("/v2/post/publish/video/init/", headers=headers, json=body)
            ).json()["data"]
            await client.put(
                init["upload_url"],
                content=data,
                headers={
                    "Content-Type": "video/mp4",
                    "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}",
                },
            )
        publish = sb.publish(init["publish_id"])
        for _ in range(200):
            if publish.public_post_ids():
                break
            await asyncio.sleep(0.01)
        assert publish.status == "PUBLISH_COMPLETE"
        assert publish.public_post_ids()

    def test_callable_clock(self) -> None:
        start = datetime(2030, 1, 1, tzinfo=UTC)
        sb: Sandbox = create_sandbox_app(clock=lambda: start).state.sandbox
        assert sb.clock.now() == start
        sb.clock.advance(60)
        assert sb.clock.now() == start + timedelta(seconds=60)
        assert re.fullmatch(r"20300101000100[0-9A-F]{20}", sb.log_id())

    def test_storage_dir(self, tmp_path: Path) -> None:
        sb: Sandbox = create_sandbox_app(
            SandboxConfig(storage_dir=str(tmp_path / "media"))
        ).state.sandbox
        assert Path(sb.storage_dir).is_dir()
