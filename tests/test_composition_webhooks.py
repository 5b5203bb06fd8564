"""The embedded sandbox's webhooks go to ZakiPost's own endpoint by default, in process;
the exemption is that one URL, not loopback or private addresses in general."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.app import make_settings
from zakipost.composition import build_components, own_webhook_url, webhook_client, webhook_guard
from zakipost.config import Settings
from zakipost.media.errors import MediaUrlForbidden


def _settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, media={"allow_private_networks": False})


class TestOwnWebhookUrl:
    def test_the_embedded_sandbox_sends_to_the_gateway(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("ZAKIPOST_SANDBOX_WEBHOOK_URL", raising=False)
        settings = _settings(tmp_path)
        components = build_components(settings, mount_sandbox=True)
        assert components.sandbox_app is not None
        config = components.sandbox_app.state.sandbox.config
        assert config.webhook_url == f"{settings.public_url}/tiktok/webhook"

    def test_a_set_webhook_url_wins_even_empty(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ZAKIPOST_SANDBOX_WEBHOOK_URL", "")
        components = build_components(_settings(tmp_path), mount_sandbox=True)
        assert components.sandbox_app is not None
        assert components.sandbox_app.state.sandbox.config.webhook_url is None

    async def test_only_that_exact_url_passes_the_guard(self, tmp_path: Path) -> None:
        settings = _settings(tmp_path)
        own = own_webhook_url(settings)
        check = webhook_guard(settings, own_url=own)
        await check(own)
        for other in (
            f"{settings.public_url}/tiktok/webhook/x",
            f"{settings.public_url}/v1/account",
            "http://127.0.0.1:9/hook",
            "http://10.0.0.1/hook",
        ):
            with pytest.raises(ValueError, match="refused"):
                await check(other)

    async def test_deliveries_to_it_stay_in_process(self, tmp_path: Path) -> None:
        settings = _settings(tmp_path)
        components = build_components(settings, mount_sandbox=True)
        received: list[str] = []

        async def web_app(scope, receive, send):  # type: ignore[no-untyped-def]
            received.append(scope["path"])
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        components.web_app = web_app
        factory = webhook_client(settings, own=(own_webhook_url(settings), components))
        async with factory() as client:
            response = await client.post(own_webhook_url(settings), content=b"{}")
            assert response.status_code == 200
            # Anything else goes through the address guard, which refuses loopback.
            with pytest.raises(MediaUrlForbidden):
                await client.post(f"{settings.public_url}/v1/account", content=b"{}")
        assert received == ["/tiktok/webhook"]
