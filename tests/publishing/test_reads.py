"""The pipeline's plain reads go through read sessions: on SQLite they take no turn in the
write queue. Proven without timing: this task holds a write transaction, and a write it
began on another connection would be refused at once (NestedWriteTransaction)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import AccountWithKeys
from tests.publishing.test_settle import Clock, _run_at
from zakipost.db.engine import write_queue
from zakipost.db.write_queue import NestedWriteTransaction
from zakipost.publishing import preflight
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.failures import PostDeferred
from zakipost.publishing.states import PostStep
from zakipost.tiktok import TooManyPendingShares


@pytest.fixture(autouse=True)
def _sqlite_only(dialect: str) -> None:
    if dialect != "sqlite":
        pytest.skip("PostgreSQL has no process-wide write lock: its writers do not queue")


@pytest.fixture
def clock(deps: PipelineDeps) -> Clock:
    deps.clock = clock = Clock()
    return clock


@contextlib.asynccontextmanager
async def _write_held(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    async with sessionmaker() as session, session.begin():
        await session.execute(select(1))
        queue = write_queue(sessionmaker.kw["bind"])
        assert queue is not None and queue.holding()
        yield


def test_the_app_pipeline_has_read_sessions(deps: PipelineDeps) -> None:
    assert deps.read_sessionmaker is not None
    assert deps.read_sessionmaker is not deps.sessionmaker


async def test_load_reads_while_this_task_holds_the_write_lock(
    deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
) -> None:
    run = await _run_at(deps, owner, clock, PostStep.fetching)
    async with _write_held(deps.sessionmaker):
        post = await run.load()
    assert post.id == run.post_id and post.step is PostStep.fetching


async def test_load_with_the_write_sessionmaker_alone_still_queues(
    deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
) -> None:
    # The control: without read sessions the load takes a turn in the write queue.
    deps.read_sessionmaker = None
    run = await _run_at(deps, owner, clock, PostStep.fetching)
    async with _write_held(deps.sessionmaker):
        with pytest.raises(NestedWriteTransaction):
            await run.load()


async def test_the_daily_window_of_a_deferral_is_read_without_the_write_lock(
    deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
) -> None:
    run = await _run_at(deps, owner, clock, PostStep.initializing)
    post = await run.load()
    async with _write_held(deps.sessionmaker):
        deferral = await preflight.cap_reached(run, post, "full")
    assert isinstance(deferral, PostDeferred)


async def test_a_temporary_refusal_reads_the_window_without_the_write_lock(
    deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
) -> None:
    run = await _run_at(deps, owner, clock, PostStep.initializing)
    post = await run.load()
    async with _write_held(deps.sessionmaker):
        deferral = await preflight.posting_refused(run, post, TooManyPendingShares(code="x"))
    assert isinstance(deferral, PostDeferred)
