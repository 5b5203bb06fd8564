"""The in-process queue of SQLite writers (zakipost/db/write_queue.py).

Ordering and exclusion are proven by recorded events, never by time: each writer notes when
it arrives at the queue (a ``begin`` listener placed before the queue's), when it is inside
its transaction and when it leaves. The SQLite engines here set ``busy_timeout=0``, so two
connections of the process meeting at SQLite's lock would fail with "database is locked"
at once instead of sleeping in the busy handler.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from zakipost.db.engine import (
    create_engine,
    create_read_sessionmaker,
    create_sessionmaker,
    write_queue,
)
from zakipost.db.write_queue import NestedWriteTransaction, WriteQueue
from zakipost.models import RateBudgetUse

AT = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
WRITERS = 50


def _sqlite_only(dialect: str) -> None:
    if dialect != "sqlite":
        pytest.skip("PostgreSQL has no process-wide write lock: its writers do not queue")


def _no_busy_wait(engine: AsyncEngine) -> AsyncEngine:
    @event.listens_for(engine.sync_engine, "connect")
    def _busy_timeout_zero(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    return engine


@pytest.fixture
async def writers_engine(dialect: str, engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The test database; on SQLite through an engine of its own that never busy-waits and
    has a connection for every writer."""
    if dialect != "sqlite":
        yield engine
        return
    own = _no_busy_wait(
        create_engine(engine.url.render_as_string(hide_password=False), pool_size=WRITERS + 5)
    )
    # Open the connections up front, so the writers reach BEGIN together instead of one
    # after another as each new connection opens.
    connections = [await own.connect() for _ in range(WRITERS + 1)]
    for connection in connections:
        await connection.close()
    yield own
    await own.dispose()


class Arrivals:
    """Names of the tasks that asked the queue for the write lock, in the order they asked
    (noted on the call, before any wait)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._grew = asyncio.Event()

    def note(self) -> None:
        task = asyncio.current_task()
        self.names.append(task.get_name() if task else "?")
        self._grew.set()

    async def reach(self, count: int) -> None:
        while len(self.names) < count:
            self._grew.clear()
            await self._grew.wait()


@pytest.fixture
def arrivals(writers_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> Arrivals:
    seen = Arrivals()
    queue = write_queue(writers_engine)
    if queue is None:
        return seen
    take_turn = queue.try_acquire

    def try_acquire(dbapi_connection: Any) -> bool:
        seen.note()
        return take_turn(dbapi_connection)

    monkeypatch.setattr(queue, "try_acquire", try_acquire)
    return seen


async def _write(engine: AsyncEngine, name: str, events: list[tuple[str, str]]) -> None:
    async with create_sessionmaker(engine)() as session, session.begin():
        session.add(RateBudgetUse(bucket=name, at=AT))
        await session.flush()  # the transaction began with this first statement
        events.append(("in", name))
        await session.scalar(select(func.count()).select_from(RateBudgetUse))
        events.append(("out", name))


async def _rows(engine: AsyncEngine) -> int:
    async with create_read_sessionmaker(engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(RateBudgetUse)) or 0)


def _one_at_a_time(events: list[tuple[str, str]]) -> bool:
    pairs = zip(events[::2], events[1::2], strict=True)
    return all(a == ("in", b[1]) and b[0] == "out" for a, b in pairs)


class TestConcurrentWriters:
    async def test_fifty_writers_all_commit(
        self, writers_engine: AsyncEngine, dialect: str
    ) -> None:
        events: list[tuple[str, str]] = []
        start = asyncio.Barrier(WRITERS)

        async def writer(name: str) -> None:
            await start.wait()
            await _write(writers_engine, name, events)

        await asyncio.gather(*(writer(f"w{i}") for i in range(WRITERS)))

        assert await _rows(writers_engine) == WRITERS
        if dialect == "sqlite":
            # Never two inside at once, and none met another at SQLite's lock (busy_timeout=0).
            assert _one_at_a_time(events)

    async def test_served_in_arrival_order(
        self, writers_engine: AsyncEngine, arrivals: Arrivals, dialect: str
    ) -> None:
        _sqlite_only(dialect)
        events: list[tuple[str, str]] = []
        async with writers_engine.begin() as held:
            await held.execute(insert(RateBudgetUse).values(bucket="held", at=AT))
            tasks = [
                asyncio.create_task(_write(writers_engine, f"w{i}", events), name=f"w{i}")
                for i in range(WRITERS)
            ]
            await arrivals.reach(WRITERS + 1)
            assert events == []  # all of them wait for the holder
        await asyncio.gather(*tasks)

        queued = arrivals.names[1:]
        assert sorted(queued) == sorted(f"w{i}" for i in range(WRITERS))
        assert [name for kind, name in events if kind == "in"] == queued
        assert _one_at_a_time(events)
        assert await _rows(writers_engine) == WRITERS + 1


class TestReadSessions:
    async def test_a_read_runs_while_another_task_writes(self, writers_engine: AsyncEngine) -> None:
        events: list[str] = []
        opened, done_reading = asyncio.Event(), asyncio.Event()

        async def writer() -> None:
            async with create_sessionmaker(writers_engine)() as session, session.begin():
                session.add(RateBudgetUse(bucket="w", at=AT))
                await session.flush()
                events.append("write open")
                opened.set()
                await done_reading.wait()
            events.append("write committed")

        async def reader() -> None:
            await opened.wait()
            events.append(f"read {await _rows(writers_engine)}")
            done_reading.set()

        await asyncio.gather(writer(), reader())
        assert events == ["write open", "read 0", "write committed"]

    async def test_a_read_inside_a_write_transaction_of_the_same_task(
        self, writers_engine: AsyncEngine, arrivals: Arrivals, dialect: str
    ) -> None:
        async with create_sessionmaker(writers_engine)() as session, session.begin():
            session.add(RateBudgetUse(bucket="w", at=AT))
            await session.flush()
            assert await _rows(writers_engine) == 0  # did not queue behind its own task
        assert await _rows(writers_engine) == 1
        if dialect == "sqlite":
            assert len(arrivals.names) == 1  # only the write transaction reached the queue

    async def test_reads_leave_the_turn_to_writers(
        self, writers_engine: AsyncEngine, dialect: str
    ) -> None:
        _sqlite_only(dialect)
        queue = write_queue(writers_engine)
        assert queue is not None
        async with create_read_sessionmaker(writers_engine)() as session:
            await session.scalar(select(func.count()).select_from(RateBudgetUse))
            assert not queue.holding()
            await _write(writers_engine, "w", [])  # a write meanwhile does not wait for it
        async with create_sessionmaker(writers_engine)() as session:
            await session.scalar(select(func.count()).select_from(RateBudgetUse))
            assert queue.holding()  # a write session's autobegun transaction queues
        assert not queue.holding()


class TestNesting:
    async def test_a_nested_write_session_is_refused_at_once(
        self, writers_engine: AsyncEngine, dialect: str
    ) -> None:
        _sqlite_only(dialect)
        maker = create_sessionmaker(writers_engine)
        async with maker() as outer, outer.begin():
            outer.add(RateBudgetUse(bucket="outer", at=AT))
            await outer.flush()
            async with maker() as inner:
                with pytest.raises(NestedWriteTransaction, match="already holds"):
                    await inner.execute(insert(RateBudgetUse).values(bucket="inner", at=AT))
        # The outer transaction committed, and the turn is free for the next writer.
        await _write(writers_engine, "after", [])
        async with create_read_sessionmaker(writers_engine)() as session:
            buckets = set(await session.scalars(select(RateBudgetUse.bucket)))
        assert buckets == {"outer", "after"}

    async def test_a_nested_write_session_still_works_on_postgresql(
        self, writers_engine: AsyncEngine, dialect: str
    ) -> None:
        if dialect != "postgresql":
            pytest.skip("PostgreSQL only: unchanged there")
        maker = create_sessionmaker(writers_engine)
        async with maker() as outer, outer.begin():
            outer.add(RateBudgetUse(bucket="outer", at=AT))
            await outer.flush()
            await _write(writers_engine, "inner", [])
        assert await _rows(writers_engine) == 2
        assert write_queue(writers_engine) is None

    async def test_one_session_after_another_in_one_task(self, writers_engine: AsyncEngine) -> None:
        for name in ("a", "b", "c"):
            await _write(writers_engine, name, [])
        assert await _rows(writers_engine) == 3


class TestTurnHandedOn:
    async def test_after_a_rollback(
        self, writers_engine: AsyncEngine, arrivals: Arrivals, dialect: str
    ) -> None:
        _sqlite_only(dialect)
        events: list[tuple[str, str]] = []
        follower: asyncio.Task[None] | None = None

        async def fails() -> None:
            nonlocal follower
            async with create_sessionmaker(writers_engine)() as session, session.begin():
                session.add(RateBudgetUse(bucket="rolled back", at=AT))
                await session.flush()
                follower = asyncio.create_task(_write(writers_engine, "next", events), name="next")
                await arrivals.reach(2)
                raise LookupError

        with pytest.raises(LookupError):
            await fails()
        assert follower is not None
        await follower
        assert events == [("in", "next"), ("out", "next")]
        assert await _rows(writers_engine) == 1

    async def test_a_cancelled_waiter_leaves_the_queue(
        self, writers_engine: AsyncEngine, arrivals: Arrivals, dialect: str
    ) -> None:
        _sqlite_only(dialect)
        events: list[tuple[str, str]] = []
        async with writers_engine.begin() as held:
            await held.execute(insert(RateBudgetUse).values(bucket="held", at=AT))
            gone = asyncio.create_task(_write(writers_engine, "gone", events), name="gone")
            await arrivals.reach(2)
            stays = asyncio.create_task(_write(writers_engine, "stays", events), name="stays")
            await arrivals.reach(3)
            gone.cancel()
            with pytest.raises(asyncio.CancelledError):
                await gone
        await stays
        assert events == [("in", "stays"), ("out", "stays")]
        queue = write_queue(writers_engine)
        assert queue is not None and not queue.holding()

    async def test_when_a_connection_is_invalidated_mid_transaction(
        self, writers_engine: AsyncEngine, dialect: str
    ) -> None:
        _sqlite_only(dialect)
        async with writers_engine.connect() as conn:
            await conn.execute(insert(RateBudgetUse).values(bucket="lost", at=AT))
            await conn.invalidate()
        await _write(writers_engine, "next", [])
        assert await _rows(writers_engine) == 1

    async def test_when_begin_fails_on_another_processes_lock(
        self, writers_engine: AsyncEngine, engine: AsyncEngine, dialect: str
    ) -> None:
        """Another engine stands for another process: the two still meet at SQLite's lock."""
        _sqlite_only(dialect)
        async with engine.begin() as other:
            await other.execute(insert(RateBudgetUse).values(bucket="other", at=AT))
            with pytest.raises(OperationalError, match="database is locked"):
                await _write(writers_engine, "refused", [])
        await _write(writers_engine, "next", [])
        assert await _rows(writers_engine) == 2


class TestWriteQueue:
    async def test_every_event_loop_has_its_own_queue(self) -> None:
        queue = WriteQueue(timeout=30)

        async def contended() -> list[str]:
            order: list[str] = []
            first, second = object(), object()
            await queue.acquire(first)

            async def wait() -> None:
                await queue.acquire(second)
                order.append("second")
                queue.release(second)

            waiting = asyncio.create_task(wait())
            await asyncio.sleep(0)
            order.append("first")
            queue.release(first)
            await waiting
            return order

        assert await contended() == ["first", "second"]
        assert await asyncio.to_thread(asyncio.run, contended()) == ["first", "second"]
        assert await contended() == ["first", "second"]

    async def test_a_newcomer_cannot_take_the_turn_being_handed_on(self) -> None:
        queue = WriteQueue(timeout=30)
        first, waiting, newcomer = object(), object(), object()
        await queue.acquire(first)
        order: list[str] = []

        async def wait() -> None:
            await queue.acquire(waiting)
            order.append("waiting")
            queue.release(waiting)

        waiter = asyncio.create_task(wait())
        await asyncio.sleep(0)  # the waiter is queued
        queue.release(first)  # handed on; the waiter has not run yet
        assert not queue.try_acquire(newcomer)
        await waiter
        assert order == ["waiting"]
        assert queue.try_acquire(newcomer)

    async def test_a_waiter_cancelled_as_it_is_given_the_turn_passes_it_on(self) -> None:
        queue = WriteQueue(timeout=30)
        first, cancelled, next_one = object(), object(), object()
        await queue.acquire(first)
        cancelled_task = asyncio.create_task(queue.acquire(cancelled))
        next_task = asyncio.create_task(queue.acquire(next_one))
        await asyncio.sleep(0)  # both are queued, in this order
        queue.release(first)  # handed to the first waiter...
        cancelled_task.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await cancelled_task
        await next_task
        queue.release(next_one)
        assert not queue.holding()

    async def test_a_wait_longer_than_the_timeout_fails_like_sqlite(self) -> None:
        queue = WriteQueue(timeout=0)
        holder = object()
        await queue.acquire(holder)

        async def other_task() -> None:
            await queue.acquire(object())

        with pytest.raises(OperationalError, match="database is locked"):
            await asyncio.create_task(other_task())
        queue.release(holder)
        await queue.acquire(holder)  # free again
        queue.release(holder)

    async def test_releasing_a_connection_that_holds_nothing_does_nothing(self) -> None:
        queue = WriteQueue(timeout=30)
        holder = object()
        await queue.acquire(holder)
        queue.release(object())
        assert queue.holding()
        queue.release(holder)
        assert not queue.holding()

    async def test_engines_in_two_event_loops_on_one_database(
        self, writers_engine: AsyncEngine, dialect: str
    ) -> None:
        """Each thread's loop has its own engine (as each process would): they meet at
        SQLite's lock and its busy timeout, and every write commits."""
        _sqlite_only(dialect)
        url = writers_engine.url.render_as_string(hide_password=False)

        async def in_own_loop(prefix: str) -> None:
            own = create_engine(url, pool_size=10)
            try:
                await asyncio.gather(*(_write(own, f"{prefix}{i}", []) for i in range(10)))
            finally:
                await own.dispose()

        await asyncio.gather(
            asyncio.to_thread(asyncio.run, in_own_loop("a")),
            asyncio.to_thread(asyncio.run, in_own_loop("b")),
            in_own_loop("c"),
        )
        assert await _rows(writers_engine) == 30
