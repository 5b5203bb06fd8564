"""/readyz: the web's readiness (the database) and the workers seen in the last minute;
/readyz?workers=1 is not ready without a live worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.app import client_for, make_settings
from tests.fixtures.clock import OffsetClock
from zakipost.composition import build_components
from zakipost.main import create_app
from zakipost.worker import TaskRegistry, Worker, liveness


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
async def app(tmp_path: Path, engine: AsyncEngine, clock: OffsetClock) -> AsyncIterator[FastAPI]:
    settings = make_settings(tmp_path)
    components = build_components(settings, engine=engine, mount_sandbox=False, clock=clock)
    app = create_app(settings, components=components)
    async with app.router.lifespan_context(app):
        yield app


async def ready(client: httpx.AsyncClient, workers: bool) -> httpx.Response:
    return await client.get("/readyz", params={"workers": "1"} if workers else {})


async def test_no_worker_ever_web_ready_deployment_not(app: FastAPI) -> None:
    async with client_for(app) as client:
        plain = await ready(client, workers=False)
        strict = await ready(client, workers=True)
    assert plain.status_code == 200
    assert plain.json()["workers"] == {"live": 0, "window_seconds": 60, "last_seen_at": None}
    assert strict.status_code == 503
    assert strict.json()["status"] == "unavailable"
    assert strict.json()["database"] == "ok"
    assert "No worker was seen in the last minute" in strict.json()["message"]


async def test_not_ready_within_a_minute_of_the_last_worker_dying(
    app: FastAPI, clock: OffsetClock
) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        await liveness.register(
            session, liveness.Presence(worker_id="killed", concurrency=4), now=clock()
        )
    async with client_for(app) as client:
        seen = await ready(client, workers=True)
        assert seen.status_code == 200
        assert seen.json()["workers"]["live"] == 1
        clock.advance(59)  # its last beat is 59 s old: still counted
        assert (await ready(client, workers=True)).status_code == 200
        clock.advance(2)
        gone = await ready(client, workers=True)
        assert gone.status_code == 503
        assert gone.json()["workers"]["live"] == 0
        assert (await ready(client, workers=False)).status_code == 200


async def test_a_worker_that_stops_cleanly_is_gone_at_once(
    app: FastAPI, clock: OffsetClock
) -> None:
    worker = Worker(app.state.sessionmaker, TaskRegistry(), clock=clock, poll_interval=3600)
    await worker.start()
    async with client_for(app) as client:
        try:
            assert (await ready(client, workers=True)).status_code == 200
        finally:
            await worker.stop(grace_seconds=0)
        assert (await ready(client, workers=True)).status_code == 503
