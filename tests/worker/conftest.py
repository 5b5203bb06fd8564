"""Worker fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import zakipost.models  # noqa: F401  (registers every table, so the fixtures empty them all)
from tests.worker.helpers import FakeClock, MakeWorker, Outcomes
from zakipost.worker import TaskRegistry, Worker


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> TaskRegistry:
    return TaskRegistry()


@pytest.fixture
def outcomes() -> Outcomes:
    return Outcomes()


@pytest.fixture
async def make_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    registry: TaskRegistry,
    clock: FakeClock,
    outcomes: Outcomes,
) -> AsyncIterator[MakeWorker]:
    """Builds workers that are stopped (releasing their jobs) at the end of the test."""
    started: list[Worker] = []

    def build(**kwargs: object) -> Worker:
        options: dict[str, object] = {"clock": clock, "on_outcome": outcomes, "poll_interval": 3600}
        worker = Worker(sessionmaker, registry, **{**options, **kwargs})  # type: ignore[arg-type]
        started.append(worker)
        return worker

    yield build
    for worker in started:
        await worker.stop(grace_seconds=0)
