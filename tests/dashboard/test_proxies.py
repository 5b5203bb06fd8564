"""X-Forwarded-For is believed only from the proxies the operator lists: by default a client
on loopback cannot pose as other addresses to get past the per-address log-in limit."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tests.dashboard.conftest import csrf_of
from tests.fixtures.app import make_settings
from zakipost.cli.server import uvicorn_options
from zakipost.config import Settings
from zakipost.dashboard import login_limit


def served(app: FastAPI, settings: Settings) -> httpx.AsyncClient:
    """A client over ``app`` wrapped as uvicorn wraps it in ``serve``/``web`` (the lifespan
    is the test app's own), from 127.0.0.1."""
    options: dict[str, Any] = {
        k: v for k, v in uvicorn_options(settings).items() if k not in ("host", "port")
    }
    config = uvicorn.Config(app, lifespan="off", **options)
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url=settings.public_url)


async def wrong_logins_from_posed_addresses(client: httpx.AsyncClient, count: int) -> list[int]:
    statuses = []
    for n in range(count):
        page = await client.get("/dashboard/login")
        response = await client.post(
            "/dashboard/login",
            data={
                "email": f"guess{n}@example.com",
                "password": "wrong",
                "csrf_token": csrf_of(page),
            },
            headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
        )
        statuses.append(response.status_code)
    return statuses


class TestTrustedProxies:
    def test_none_are_trusted_by_default(self, tmp_path: Path) -> None:
        options = uvicorn_options(make_settings(tmp_path))
        assert options["proxy_headers"] is False
        assert options["forwarded_allow_ips"] == []

    def test_the_listed_proxies_are_handed_to_uvicorn(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, server={"trusted_proxies": ["10.0.0.7", "fd00::/8"]})
        options = uvicorn_options(settings)
        assert options["proxy_headers"] is True
        assert options["forwarded_allow_ips"] == ["10.0.0.7/32", "fd00::/8"]

    async def test_by_default_a_loopback_client_cannot_pose_as_other_addresses(
        self, app: FastAPI, settings: Settings
    ) -> None:
        async with served(app, settings) as client:
            statuses = await wrong_logins_from_posed_addresses(client, login_limit.PER_ADDRESS + 1)
        # Every attempt counted against 127.0.0.1, whatever X-Forwarded-For said.
        assert statuses == [400] * login_limit.PER_ADDRESS + [429]

    async def test_a_trusted_proxy_gives_each_client_its_own_address(
        self, app: FastAPI, settings: Settings
    ) -> None:
        trusting = settings.model_copy(
            update={
                "server": settings.server.model_copy(
                    update={"trusted_proxies": (ip_network("127.0.0.1"),)}
                )
            }
        )
        async with served(app, trusting) as client:
            statuses = await wrong_logins_from_posed_addresses(client, login_limit.PER_ADDRESS + 1)
        assert statuses == [400] * (login_limit.PER_ADDRESS + 1)
