from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.connection.timing import SandboxLine, SimulatedTime, timed_pipeline
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.consent import consent
from zakipost.connection import tasks as connection_tasks
from zakipost.publishing import tasks as publishing_tasks
from zakipost.publishing.deps import PipelineDeps
from zakipost.worker import TaskRegistry, Worker

CALLBACK_TARGET = "https://app.example.com/tiktok/done"


async def connect_via_api(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    *,
    decision: str = "approve",
    creator_index: int | None = None,
    drop_scopes: tuple[str, ...] = (),
) -> dict[str, str]:
    """Begin over the API, consent in the sandbox, follow the callback; return the query
    ZakiPost sends the user back with."""
    started = await client.post(
        "/v1/tiktok/connect", json={"redirect_url": CALLBACK_TARGET}, headers=owner.headers
    )
    assert started.status_code == 200, started.text
    authorize_url = started.json()["data"]["authorize_url"]
    result = await consent(
        client,
        authorize_url,
        decision=decision,
        creator_index=creator_index,
        drop_scopes=drop_scopes,
    )
    back = await client.get(result.location, follow_redirects=False)
    assert back.status_code == 303, back.text
    location = back.headers["location"]
    assert location.startswith(CALLBACK_TARGET)
    from urllib.parse import parse_qs, urlsplit

    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
async def connected(client: httpx.AsyncClient, owner: AccountWithKeys) -> uuid.UUID:
    query = await connect_via_api(client, owner)
    return uuid.UUID(query["tiktok_account_id"])


@pytest.fixture
def todays_tiktok(sandbox: Any) -> Any:
    """The sandbox as today's TikTok: 2-hour access tokens, 180-day refresh tokens, strict
    rotation, an app approved for the posting scopes only (its defaults, checked here)."""
    config = sandbox.config
    assert (config.access_token_ttl_seconds, config.refresh_token_ttl_seconds) == (
        7200,
        15_552_000,
    )
    assert config.refresh_token_rotation and not config.display_api_approved
    return sandbox


@pytest.fixture
def sim_time(sandbox: Any) -> SimulatedTime:
    return SimulatedTime(sandbox)


@pytest.fixture
def line(app: FastAPI, sim_time: SimulatedTime) -> SandboxLine:
    return SandboxLine(httpx.ASGITransport(app=app), sim_time.clock)


@pytest.fixture
async def timed_deps(
    app: FastAPI, sim_time: SimulatedTime, line: SandboxLine
) -> AsyncIterator[PipelineDeps]:
    async for deps in timed_pipeline(app, sim_time, line):
        yield deps


@pytest.fixture
def timed_worker(timed_deps: PipelineDeps) -> Worker:
    """A worker on simulated time with the publishing and connection tasks only (the other
    periodic jobs would only slow simulated days down)."""
    registry = TaskRegistry()
    publishing_tasks.register(registry, timed_deps)
    connection_tasks.register(registry, timed_deps.tokens)
    settings = timed_deps.settings
    return Worker(
        timed_deps.sessionmaker,
        registry,
        concurrency=2,
        lease_seconds=settings.worker.lease_seconds,
        poll_interval=settings.worker.poll_interval_seconds,
        clock=timed_deps.clock,
    )


def rotated_twice(sandbox: Any) -> list[str]:
    """Refresh tokens TikTok accepted more than once (by digest): must be none."""
    rotated = [a.refresh_token_sha256 for a in sandbox.refresh_attempts if a.outcome == "rotated"]
    return sorted({d for d in rotated if d is not None and rotated.count(d) > 1})
