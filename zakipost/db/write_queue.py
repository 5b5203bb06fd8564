"""SQLite's write lock, queued inside the process.

Every read-write transaction on SQLite begins ``BEGIN IMMEDIATE``. Left to SQLite, the
connections of one process that want the lock at once wait in its busy handler: a sleep
whose back-off grows to 100 ms, and unfair (a newcomer can take the lock before an old
waiter). Here the writers of one engine wait in a FIFO queue in the process instead (one
per event loop: a waiter is a future of its loop), taken just before ``BEGIN IMMEDIATE``
and handed straight to the oldest waiter as soon as the transaction's ``COMMIT`` or
``ROLLBACK`` has returned (or its connection is closed). So at most one connection of the engine is inside a write transaction at a
time, and no task sleeps in SQLite's busy handler while another task of the process holds
the lock. Other processes (a separate worker) still meet at SQLite's lock and its busy
timeout.

Read-only connections (``READ_ONLY_OPTION``) never queue. A task that already holds the
write transaction and begins another one on a second connection would wait for itself:
that is refused at once with :class:`NestedWriteTransaction` (SQLite would have made it
wait out the busy timeout and fail with "database is locked"). A wait longer than the busy
timeout ends as SQLite's would: ``OperationalError: database is locked``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.util import await_


class NestedWriteTransaction(RuntimeError):
    """The task that holds this process's SQLite write transaction began a second one on
    another connection, which would wait for the first forever."""

    def __init__(self) -> None:
        super().__init__(
            "This task already holds the SQLite write transaction on another connection; "
            "commit it before opening the next write session, or read in a read session."
        )


@dataclass
class _LoopQueue:
    """The writers of one event loop (a future belongs to the loop it waits in)."""

    loop: weakref.ref[asyncio.AbstractEventLoop]
    taken: bool = False  # from a grant until the release; a newcomer then queues behind
    holder: Any = None  # the DBAPI connection inside the write transaction
    holder_task: asyncio.Task[Any] | None = None
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


class WriteQueue:
    """The FIFO queue of one SQLite engine's writers; see the module docstring."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._guard = threading.Lock()
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = (
            weakref.WeakKeyDictionary()
        )

    def install(self, engine: Engine) -> None:
        """Release the turn after every commit, rollback, close and terminate of
        ``engine``'s connections. Its dialect instance is the engine's own (SQLAlchemy has no
        event after a commit), so wrapping its methods reaches no other engine."""
        dialect = engine.dialect
        for name in ("do_commit", "do_rollback", "do_close", "do_terminate"):
            setattr(dialect, name, self._releasing(getattr(dialect, name)))

    def begin_immediate(self, connection: Any) -> None:
        """Wait for this process's turn, then ``BEGIN IMMEDIATE`` on ``connection`` (a
        SQLAlchemy ``Connection``, inside its ``begin`` event, so inside a greenlet)."""
        dbapi_connection = connection.connection.dbapi_connection
        if not self.try_acquire(dbapi_connection):
            await_(self._wait(dbapi_connection))
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.release(dbapi_connection)
            raise

    async def acquire(self, dbapi_connection: Any) -> None:
        """Wait for the turn of this loop's writers; ``dbapi_connection`` holds it after."""
        if not self.try_acquire(dbapi_connection):
            await self._wait(dbapi_connection)

    def release(self, dbapi_connection: Any) -> None:
        """Give the turn to the next writer if ``dbapi_connection`` holds it; else nothing."""
        with self._guard:
            queues = list(self._queues.values())
        for queue in queues:
            if queue.holder is dbapi_connection:
                loop = queue.loop()
                if loop is None or loop.is_closed():
                    return
                if _running_loop() is loop:
                    _hand_on(queue)
                else:
                    # A garbage-collected connection can be terminated outside its loop.
                    loop.call_soon_threadsafe(_hand_on, queue)
                return

    def holding(self) -> bool:
        """Whether a connection of the running loop holds the turn (or is being given it)."""
        queue = self._queues.get(asyncio.get_running_loop())
        return queue is not None and queue.taken

    def try_acquire(self, dbapi_connection: Any) -> bool:
        """Take the turn at once if it is free and nobody waits (no await on this path);
        every writer asks here first."""
        queue = self._queue()
        task = asyncio.current_task()
        if queue.holder is not None and queue.holder_task is task:
            raise NestedWriteTransaction()
        if queue.taken:
            return False
        queue.taken = True
        queue.holder, queue.holder_task = dbapi_connection, task
        return True

    async def _wait(self, dbapi_connection: Any) -> None:
        queue = self._queue()
        waiter = asyncio.get_running_loop().create_future()
        queue.waiters.append(waiter)
        try:
            async with asyncio.timeout(self._timeout):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                _hand_on(queue)  # given the turn just as it was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    queue.waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                orig = sqlite3.OperationalError(
                    f"database is locked (waited {self._timeout:g} s for this process's turn)"
                )
                raise OperationalError("BEGIN IMMEDIATE", None, orig) from None
            raise
        queue.holder, queue.holder_task = dbapi_connection, asyncio.current_task()

    def _queue(self) -> _LoopQueue:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            with self._guard:
                queue = self._queues.setdefault(loop, _LoopQueue(weakref.ref(loop)))
        return queue

    def _releasing(self, method: Callable[[Any], None]) -> Callable[[Any], None]:
        def call(dbapi_connection: Any) -> None:
            try:
                method(dbapi_connection)
            finally:
                # Pool proxies (commit, rollback) and raw connections (close) both arrive.
                self.release(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))

        return call


def _hand_on(queue: _LoopQueue) -> None:
    """The turn goes straight to the oldest live waiter (so nobody can barge in between),
    or becomes free."""
    queue.holder, queue.holder_task = None, None
    while queue.waiters:
        waiter = queue.waiters.popleft()
        if not waiter.done():
            waiter.set_result(None)
            return
    queue.taken = False


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
