"""``/metrics`` off, open or behind a bearer token, on the web app and on the worker's own
listener."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.fixtures.app import client_for, make_settings, running_app
from zakipost.config import SettingsError
from zakipost.metrics_server import worker_listener

TOKEN = "metrics-token-0123456789"


def production(tmp_path: Path, **overrides: object):
    return make_settings(
        tmp_path, env="production", media={"allow_private_networks": False}, **overrides
    )


class TestWebMetrics:
    async def test_production_serves_nothing_by_default(
        self, tmp_path: Path, engine: AsyncEngine
    ) -> None:
        settings = production(tmp_path)
        async with (
            running_app(settings, engine, mount_sandbox=False) as app,
            client_for(app) as client,
        ):
            response = await client.get("/metrics")
        assert response.status_code == 404

    async def test_production_requires_the_token(self, tmp_path: Path, engine: AsyncEngine) -> None:
        settings = production(tmp_path, metrics={"enabled": True, "token": TOKEN})
        async with (
            running_app(settings, engine, mount_sandbox=False) as app,
            client_for(app) as client,
        ):
            missing = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            right = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        for refused in (missing, wrong):
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")
            assert "ZAKIPOST_METRICS_TOKEN" in refused.json()["message"]
            assert TOKEN not in refused.text
        assert right.status_code == 200
        assert "zakipost_posts{" in right.text

    def test_production_refuses_unprotected_metrics_at_start(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError) as excinfo:
            production(tmp_path, metrics={"enabled": True})
        assert "ZAKIPOST_METRICS_TOKEN" in str(excinfo.value)
        allowed = production(tmp_path, metrics={"enabled": True, "allow_unprotected": True})
        assert allowed.metrics_enabled

    def test_a_worker_port_with_metrics_off_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError) as excinfo:
            make_settings(tmp_path, metrics={"enabled": False}, worker={"metrics_port": 9100})
        assert "ZAKIPOST_WORKER_METRICS_PORT" in str(excinfo.value)

    async def test_open_outside_production(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert "# TYPE zakipost_tiktok_request_duration_seconds histogram" in response.text


class TestWorkerListener:
    async def test_no_port_no_listener(
        self, tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with worker_listener(make_settings(tmp_path), sessionmaker) as port:
            assert port is None

    async def test_serves_the_database_view_behind_the_token(
        self, tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        settings = make_settings(tmp_path, worker={"metrics_port": 0}, metrics={"token": TOKEN})
        async with worker_listener(settings, sessionmaker) as port:
            assert port
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                refused = await client.get("/metrics")
                served = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
                elsewhere = await client.get("/v1/account")
        assert refused.status_code == 401
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("text/plain")
        assert 'zakipost_posts{kind="video",status="queued"} 0.0' in served.text
        assert elsewhere.status_code == 404

    async def test_a_busy_port_says_which(
        self, tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        first = make_settings(tmp_path, worker={"metrics_port": 0})
        async with worker_listener(first, sessionmaker) as port:
            busy = make_settings(tmp_path, worker={"metrics_port": port})
            with pytest.raises(RuntimeError, match="ZAKIPOST_WORKER_METRICS_PORT"):
                async with worker_listener(busy, sessionmaker):
                    pass
