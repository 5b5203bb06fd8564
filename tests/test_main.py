from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.app import make_settings
from zakipost.main import create_app
from zakipost.sandbox import SandboxConfig


class TestCreateApp:
    async def test_no_tiktok_app_embeds_the_sandbox(
        self, tmp_path: Path, engine: AsyncEngine
    ) -> None:
        app = create_app(make_settings(tmp_path), engine=engine)
        assert app.state.sandbox_app is not None

    async def test_a_standalone_sandbox_is_used_over_http(
        self, tmp_path: Path, engine: AsyncEngine
    ) -> None:
        # Regression: the app used to mount its own sandbox and send TikTok calls into itself.
        settings = make_settings(tmp_path, tiktok={"sandbox_url": "http://127.0.0.1:9000"})
        app = create_app(settings, engine=engine)
        assert app.state.sandbox_app is None
        assert app.state.tiktok_client_key == SandboxConfig.from_env().client_key
        assert settings.tiktok_api_base_url == "http://127.0.0.1:9000"

    async def test_a_configured_tiktok_app_leaves_the_sandbox_out(
        self, tmp_path: Path, engine: AsyncEngine
    ) -> None:
        settings = make_settings(
            tmp_path, tiktok={"client_key": "awkey", "client_secret": "s" * 32}
        )
        app = create_app(settings, engine=engine)
        assert app.state.sandbox_app is None
        assert app.state.tiktok_client_key == "awkey"
