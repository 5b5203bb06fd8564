"""The embedded sandbox's control API (/sandbox/_sandbox/) is never served in production,
otherwise only to this machine or with the operator's token; its webhook targets pass the
same address guard as media URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.app import make_settings, running_app
from zakipost.composition import standalone_sandbox, webhook_client, webhook_guard
from zakipost.config import Settings
from zakipost.media import MediaUrlForbidden

TOKEN = "operator-control-token-0123"
REMOTE = ("203.0.113.5", 50000)


def client_from(app: Any, address: tuple[str, int] = ("127.0.0.1", 50000)) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=address)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


def production_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, env="production", media={"allow_private_networks": False})


class TestProduction:
    async def test_the_control_api_is_absent_while_tiktok_s_endpoints_stay(
        self, tmp_path: Path, engine: AsyncEngine
    ) -> None:
        async with running_app(production_settings(tmp_path), engine) as app:
            assert app.state.sandbox_app is not None
            async with client_from(app) as http:
                for method, path in [
                    ("GET", "/sandbox/_sandbox/config"),
                    ("POST", "/sandbox/_sandbox/tokens"),
                    ("GET", "/sandbox/_sandbox/posts"),
                    ("PATCH", "/sandbox/_sandbox/config"),
                ]:
                    response = await http.request(method, path, json={})
                    assert response.status_code == 404, (method, path)
                    assert "client_secret" not in response.text
                assert (await http.get("/sandbox/v2/user/info/")).status_code == 401
                consent = await http.get("/sandbox/v2/auth/authorize/")
                assert consent.status_code != 404

    def test_the_standalone_sandbox_leaves_it_out_too(self, tmp_path: Path) -> None:
        app, _ = standalone_sandbox("http://127.0.0.1:9000", production_settings(tmp_path))
        assert app.state.sandbox_control is None
        paths = {getattr(route, "path", "") for route in app.routes}
        assert "/_sandbox/config" not in paths
        assert "/_sandbox/avatars/{name}.jpg" in paths


class TestOutsideProduction:
    async def test_a_remote_client_needs_the_token(
        self, tmp_path: Path, engine: AsyncEngine
    ) -> None:
        settings = make_settings(tmp_path, sandbox={"control_token": TOKEN})
        async with running_app(settings, engine) as app, client_from(app, REMOTE) as http:
            refused = await http.get("/sandbox/_sandbox/config")
            allowed = await http.get(
                "/sandbox/_sandbox/config", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            minted = await http.post(
                "/sandbox/_sandbox/tokens", json={}, headers={"X-Sandbox-Control-Token": TOKEN}
            )
        assert refused.status_code == 403
        assert "client_secret" not in refused.text
        assert allowed.status_code == 200
        assert minted.status_code == 200

    async def test_without_a_token_only_loopback_gets_in(self, app: FastAPI) -> None:
        async with client_from(app, REMOTE) as remote, client_from(app) as local:
            assert (await remote.get("/sandbox/_sandbox/posts")).status_code == 403
            assert (await local.get("/sandbox/_sandbox/posts")).status_code == 200

    def test_the_standalone_sandbox_takes_the_same_token(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, sandbox={"control_token": TOKEN})
        app, _ = standalone_sandbox("http://127.0.0.1:9000", settings)
        assert app.state.sandbox_control.token == TOKEN


class TestWebhookTarget:
    async def test_loopback_and_private_targets_are_refused(
        self, tmp_path: Path, engine: AsyncEngine
    ) -> None:
        settings = make_settings(tmp_path, media={"allow_private_networks": False})
        async with running_app(settings, engine) as app, client_from(app) as http:
            for url in [
                "http://127.0.0.1:8000/hooks",
                "http://2130706433/hooks",
                "http://localhost/hooks",
                "http://10.0.0.5/hooks",
                "http://[fd00::1]/hooks",
                "http://169.254.169.254/latest/meta-data",
            ]:
                response = await http.patch("/sandbox/_sandbox/config", json={"webhook_url": url})
                assert response.status_code == 400, url
                assert "webhook_url refused" in response.json()["error"]
            config = (await http.get("/sandbox/_sandbox/config")).json()
        assert config["webhook_url"] is None

    async def test_the_media_address_policy_decides(
        self, tmp_path: Path, engine: AsyncEngine
    ) -> None:
        # The same exemptions as media URLs: an allowed network is allowed here too.
        settings = make_settings(
            tmp_path,
            media={"allow_private_networks": False, "allowed_networks": ["127.0.0.0/8"]},
        )
        async with running_app(settings, engine) as app, client_from(app) as http:
            allowed = await http.patch(
                "/sandbox/_sandbox/config", json={"webhook_url": "http://127.0.0.1:8000/hooks"}
            )
            refused = await http.patch(
                "/sandbox/_sandbox/config", json={"webhook_url": "http://10.0.0.5/hooks"}
            )
        assert allowed.status_code == 200
        assert refused.status_code == 400

    async def test_a_name_that_rebinds_to_loopback_is_refused_at_connect(
        self, tmp_path: Path
    ) -> None:
        settings = make_settings(tmp_path, media={"allow_private_networks": False})
        # Public for the check, loopback for the connection (DNS rebinding).
        answers = iter([["93.184.216.34"], ["127.0.0.1"]])

        async def resolver(host: str, port: int) -> list[str]:
            return next(answers)

        await webhook_guard(settings, resolver)("http://hooks.example.com/tiktok")
        async with webhook_client(settings, resolver)() as http:
            with pytest.raises(MediaUrlForbidden, match="loopback"):
                await http.post("http://hooks.example.com/tiktok", content=b"{}")

    async def test_deliveries_use_the_guarded_client(
        self, tmp_path: Path, engine: AsyncEngine
    ) -> None:
        settings = make_settings(tmp_path, media={"allow_private_networks": False})
        async with running_app(settings, engine) as app:
            sandbox = app.state.sandbox_app.state.sandbox
            async with sandbox.webhook_client() as http:
                # Only this gateway's own /tiktok/webhook is reached in process; any other
                # address meets the guard.
                with pytest.raises(MediaUrlForbidden, match="loopback"):
                    await http.post("http://127.0.0.1:9/tiktok/webhook", content=b"{}")
