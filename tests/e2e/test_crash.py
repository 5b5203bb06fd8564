"""Crash safety: worker processes are SIGKILLed at seeded moments while posts publish,
then all at once; a worker in process finishes what they left.

Every post must end published, and TikTok (the sandbox) must have received each exactly
once. The sandbox runs as a real server, the workers as real processes sharing the test
database; the gateway accepts the posts in process. Nothing waits on a wall-clock
deadline: the kills are counted, and the recovery moves its clock past dead leases.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.connection.conftest import CALLBACK_TARGET
from tests.fixtures.app import (
    TEST_MASTER_KEY,
    AccountWithKeys,
    create_account,
    make_settings,
    running_app,
)
from tests.fixtures.clock import OffsetClock
from tests.fixtures.consent import consent
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import app_deps, settle
from tests.fixtures.servers import ThreadedServer
from tests.sandbox.media import make_video
from zakipost.models import Post
from zakipost.publishing.states import PostStatus
from zakipost.runtime import build_worker
from zakipost.sandbox import SandboxConfig, create_sandbox_app
from zakipost.storage.factory import local_dir

CREATORS = 4
POSTS_PER_CREATOR = 4
KILLS = 12


@pytest.fixture
def sandbox_server() -> Iterator[ThreadedServer]:
    config = SandboxConfig(progression="immediate")
    app = create_sandbox_app(config)
    for i in range(CREATORS):
        app.state.sandbox.add_creator(username=f"crash_{i}")
    server = ThreadedServer(app).start()
    yield server
    server.stop()


@pytest.fixture
async def gateway(
    tmp_path: Path, engine: AsyncEngine, sandbox_server: ThreadedServer
) -> AsyncIterator[FastAPI]:
    settings = make_settings(tmp_path, tiktok={"sandbox_url": sandbox_server.url})
    async with running_app(settings, engine, mount_sandbox=False) as app:
        yield app


def spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        # The child keeps its own copy of the file descriptor.
        return subprocess.Popen(
            [sys.executable, "-m", "zakipost", "worker", "--concurrency", "4"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def connect_creators(
    client: httpx.AsyncClient, owner: AccountWithKeys, count: int, first_index: int
) -> list[str]:
    ids = []
    async with httpx.AsyncClient() as browser:
        for i in range(count):
            started = await client.post(
                "/v1/tiktok/connect", json={"redirect_url": CALLBACK_TARGET}, headers=owner.headers
            )
            result = await consent(
                browser, started.json()["data"]["authorize_url"], creator_index=first_index + i
            )
            back = await client.get(result.location, follow_redirects=False)
            location = back.headers["location"]
            ids.append(location.split("tiktok_account_id=")[1])
    return ids


ENDED = ("published", "failed", "unknown", "cancelled")


async def all_ended(sessionmaker: async_sessionmaker[AsyncSession], posts: int) -> bool:
    done = await statuses(sessionmaker)
    return sum(done[s] for s in ENDED) == posts


async def statuses(sessionmaker: async_sessionmaker[AsyncSession]) -> Counter[str]:
    async with sessionmaker() as session:
        rows = (await session.scalars(select(Post.status))).all()
    return Counter(s.value for s in rows)


@pytest.mark.slow
async def test_posts_survive_sigkilled_workers(
    gateway: FastAPI,
    engine: AsyncEngine,
    database_urls: dict[str, str],
    dialect: str,
    sandbox_server: ThreadedServer,
    media_server: MediaServer,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        owner = await create_account(sessionmaker, gateway.state.settings, gateway.state.vault)
        builtin = len(sandbox_server_creators(sandbox_server))
        accounts = await connect_creators(client, owner, CREATORS, builtin - CREATORS)
        video = make_video(seconds=4)
        (media_server.root / "clip.mp4").write_bytes(video)
        publish_ids = []
        for n in range(POSTS_PER_CREATOR):
            for account in accounts:
                response = await client.post(
                    "/v1/tiktok/publish",
                    json={
                        "video_url": media_server.url("clip.mp4"),
                        "tiktok_account_id": account,
                        "title": f"crash test {account[:8]} #{n}",
                        "privacy_level": "SELF_ONLY",
                    },
                    headers=owner.headers,
                )
                assert response.status_code == 200, response.text
                publish_ids.append(response.json()["data"]["publish_id"])

    env = {
        **os.environ,
        "ZAKIPOST_ENV": "testing",
        "ZAKIPOST_DATABASE_URL": database_urls[dialect],
        "ZAKIPOST_DATA_DIR": str(tmp_path / "worker-data"),
        "ZAKIPOST_SECURITY_MASTER_KEYS": TEST_MASTER_KEY,
        "ZAKIPOST_TIKTOK_SANDBOX_URL": sandbox_server.url,
        # The gateway's store: a worker apart from the web must name a store they share.
        "ZAKIPOST_STORAGE_LOCAL_DIR": str(local_dir(gateway.state.settings)),
        "ZAKIPOST_MEDIA_ALLOW_PRIVATE_NETWORKS": "true",
        "ZAKIPOST_WORKER_LEASE_SECONDS": "5",
        "ZAKIPOST_WORKER_RETRY_BASE_SECONDS": "0.2",
        "ZAKIPOST_WORKER_POLL_INTERVAL_SECONDS": "0.5",
        "ZAKIPOST_LOG_LEVEL": "WARNING",
    }
    count = 3 if dialect == "postgresql" else 2
    logs = [tmp_path / f"worker-{i}.log" for i in range(count)]
    workers = [spawn_worker(env, log) for log in logs]
    rng = random.Random(20261122)
    kills = 0
    try:
        # Workers die at seeded moments, KILLS of them (fewer when every post ended first).
        while kills < KILLS and not await all_ended(sessionmaker, len(publish_ids)):
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            victim = rng.randrange(count)
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            kills += 1
            workers[victim] = spawn_worker(env, logs[victim])
    finally:
        # The last crash takes every worker at once, whatever each was doing.
        for process in workers:
            process.send_signal(signal.SIGKILL)
        for process in workers:
            process.wait()
    # What the crashes left (posts mid-run, leases held by dead workers) is finished by a
    # worker in process whose clock moves past those leases instead of waiting for them:
    # bounded by rounds of work, so a slow machine ends the same way.
    recovery = build_worker(app_deps(gateway, clock=OffsetClock()), concurrency=4)
    await settle(recovery, sessionmaker, max_seconds=3600)

    final = await statuses(sessionmaker)
    worker_output = "\n".join(log.read_text()[-2000:] for log in logs)
    assert final == Counter({PostStatus.published.value: len(publish_ids)}), (final, worker_output)
    assert kills >= 3, "the workers should have been killed while posts were publishing"

    async with httpx.AsyncClient() as http:
        received = (await http.get(f"{sandbox_server.url}/_sandbox/posts")).json()
    received = received["posts"] if isinstance(received, dict) else received
    completed = Counter(p["title"] for p in received if p["status"] == "PUBLISH_COMPLETE")
    assert len(completed) == len(publish_ids)
    assert set(completed.values()) == {1}, [t for t, c in completed.items() if c > 1]


def sandbox_server_creators(server: ThreadedServer) -> list[Any]:
    data = httpx.get(f"{server.url}/_sandbox/creators").json()
    return list(data["creators"] if isinstance(data, dict) else data)
