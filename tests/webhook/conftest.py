"""A webhook receiver on loopback, and helpers that run deliveries with a moving clock."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import AccountWithKeys
from tests.fixtures.clock import OffsetClock
from tests.fixtures.pipeline import app_deps
from tests.fixtures.servers import ThreadedServer
from zakipost.config import Settings
from zakipost.models import Job, JobStatus
from zakipost.publishing.deps import PipelineDeps
from zakipost.runtime import build_worker
from zakipost.webhook.outbox import DELIVER_TASK
from zakipost.worker import Worker


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every request; answers from ``answers`` (one status per request), then 200.
    With ``hold`` cleared, a request waits until it is set (a worker killed mid-delivery)."""

    server: ThreadedServer | None = None
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    seen: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/hook") -> str:
        assert self.server is not None
        return self.server.url + path

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Received(scope["path"], headers, body))
        self.seen.set()
        if not self.hold.is_set():
            import asyncio

            await asyncio.to_thread(self.hold.wait, 120)
        status = self.answers.pop(0) if self.answers else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.hold.set()
    receiver.server = ThreadedServer(receiver).start()
    yield receiver
    receiver.hold.set()
    receiver.server.stop()


@pytest.fixture
def hooks_settings(settings: Settings) -> Settings:
    """Webhooks to loopback allowed (the shared settings are restored after the test)."""
    settings.webhooks.allow_private_networks = True
    return settings


@pytest.fixture
def hook_deps(app: FastAPI, hooks_settings: Settings) -> PipelineDeps:
    return app_deps(app, clock=OffsetClock(), webhook_rand=random.Random(11).random)


@pytest.fixture
def hook_worker(hook_deps: PipelineDeps) -> Worker:
    return build_worker(hook_deps, concurrency=2)


async def next_delivery_job(sessionmaker: async_sessionmaker[AsyncSession]) -> dt.datetime | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(func.min(Job.run_at)).where(
                Job.status == JobStatus.todo, Job.kind == DELIVER_TASK
            )
        )


async def deliver_all(
    worker: Worker, sessionmaker: async_sessionmaker[AsyncSession], *, max_rounds: int = 200
) -> int:
    """Run delivery jobs until none is queued, moving the worker's clock to each retry
    instead of waiting; how many rounds it took."""
    clock = worker.clock
    assert isinstance(clock, OffsetClock)
    for rounds in range(max_rounds):
        await worker.run_until_idle()
        due = await next_delivery_job(sessionmaker)
        if due is None:
            return rounds
        wait = (due - clock()).total_seconds()
        if wait > 0:
            clock.advance(wait + 0.001)
    raise AssertionError("deliveries did not settle")


async def create_webhook(
    client: httpx.AsyncClient, owner: AccountWithKeys, url: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post("/v1/webhooks", json={"url": url, **fields}, headers=owner.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
