"""The composition root: one of each shared object, handed to the web app and its worker,
opened and closed with the lifespan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.app import make_settings, running_app
from zakipost import main
from zakipost.composition import build_components, standalone_sandbox
from zakipost.main import create_app
from zakipost.publishing.deps import PipelineDeps
from zakipost.runtime import build_worker
from zakipost.sandbox import SandboxConfig
from zakipost.worker import Worker


class TestSharedObjects:
    async def test_the_web_app_and_the_pipeline_hold_the_same_objects(self, app: FastAPI) -> None:
        # Regression: a second TokenVault (and media store) was built for the pipeline and
        # then patched over; the per-connection refresh lock needs one vault per process.
        deps: PipelineDeps = app.state.deps
        assert deps.tokens is app.state.token_vault
        assert deps.tiktok is app.state.tiktok
        assert deps.store is app.state.media_store
        assert deps.sessionmaker is app.state.sessionmaker
        assert deps.vault is app.state.vault
        assert deps.settings is app.state.settings
        assert deps.media_dir == app.state.settings.media_dir

    async def test_serves_worker_runs_on_the_apps_objects(
        self, tmp_path: Path, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        built: list[PipelineDeps] = []

        def recording_build_worker(deps: PipelineDeps, **options: Any) -> Worker:
            built.append(deps)
            return build_worker(deps, **options)

        monkeypatch.setattr(main, "build_worker", recording_build_worker)
        async with running_app(make_settings(tmp_path), engine, run_worker=True) as app:
            assert app.state.worker is not None
            assert built == [app.state.deps]
            assert built[0].tokens is app.state.token_vault
            assert app.state.worker.sessionmaker is app.state.sessionmaker

    async def test_the_components_open_once_at_a_time(self, tmp_path: Path) -> None:
        components = build_components(make_settings(tmp_path), mount_sandbox=False)
        async with components.open() as deps:
            assert components.deps is deps
            with pytest.raises(RuntimeError, match="already open"):
                async with components.open():
                    pass
        assert components.deps is None

    async def test_components_of_other_settings_are_refused(
        self, tmp_path: Path, engine: AsyncEngine
    ) -> None:
        components = build_components(make_settings(tmp_path / "a"), engine=engine)
        with pytest.raises(ValueError, match="other settings"):
            create_app(make_settings(tmp_path / "b"), components=components)


class TestLifetimes:
    async def test_the_tiktok_client_closes_and_a_borrowed_engine_stays_open(
        self, tmp_path: Path, engine: AsyncEngine
    ) -> None:
        pool = engine.sync_engine.pool
        async with running_app(make_settings(tmp_path), engine) as app:
            tiktok = app.state.tiktok
        with pytest.raises(RuntimeError, match="closed"):
            await tiktok.refresh("rft.any")
        assert engine.sync_engine.pool is pool
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1

    async def test_an_engine_the_components_made_is_disposed(self, tmp_path: Path) -> None:
        settings = make_settings(
            tmp_path, database={"url": f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"}
        )
        components = build_components(settings, mount_sandbox=False)
        pool = components.engine.sync_engine.pool
        async with components.open() as deps:
            assert deps.sessionmaker is components.sessionmaker
        # AsyncEngine.dispose() replaces the pool with a fresh, empty one.
        assert components.engine.sync_engine.pool is not pool


class TestSandbox:
    def test_a_worker_process_has_no_embedded_sandbox(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path)
        components = build_components(settings, mount_sandbox=False)
        assert components.sandbox_app is None
        assert components.credentials.client_key == SandboxConfig.from_env().client_key

    def test_the_standalone_sandbox_describes_its_app(self) -> None:
        app, description = standalone_sandbox("http://127.0.0.1:9000")
        config = app.state.sandbox.config
        assert config.client_key in description
        assert "http://127.0.0.1:9000" in description
