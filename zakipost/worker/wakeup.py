"""Wake-ups: how a waiting worker hears about new work without polling.

On PostgreSQL, enqueue sends ``NOTIFY`` (delivered at commit) and workers ``LISTEN``.
In process, enqueue also signals this process's listeners after the commit: that is how
an embedded (SQLite) worker hears about work. Listeners are plain callables run in the
committing thread, so they must be cheap and thread-safe (a worker's listener schedules
an ``asyncio.Event.set`` on its own loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from zakipost.db import dialect
from zakipost.logging import get_logger

log = get_logger("zakipost.worker")

# The PostgreSQL channel workers LISTEN on.
CHANNEL = "zakipost_jobs"

_listeners: dict[int, Callable[[], None]] = {}
_guard = threading.Lock()
_next_token = 0

_PENDING = "zakipost.worker.wakeup_pending"
_INSTALLED = "zakipost.worker.wakeup_installed"


def subscribe(listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` after every commit that queued a job; returns an unsubscribe."""
    global _next_token
    with _guard:
        _next_token += 1
        token = _next_token
        _listeners[token] = listener

    def unsubscribe() -> None:
        with _guard:
            _listeners.pop(token, None)

    return unsubscribe


def notify() -> None:
    """Wake every listener of this process."""
    with _guard:
        listeners = list(_listeners.values())
    for listener in listeners:
        listener()


def notify_after_commit(session: AsyncSession | Session) -> None:
    """Wake this process's listeners once ``session``'s transaction commits (not on rollback)."""
    sync_session = session.sync_session if isinstance(session, AsyncSession) else session
    sync_session.info[_PENDING] = True
    if sync_session.info.get(_INSTALLED):
        return
    sync_session.info[_INSTALLED] = True
    event.listen(sync_session, "after_commit", _after_commit)
    event.listen(sync_session, "after_rollback", _after_rollback)


def _after_commit(sync_session: Session) -> None:
    if sync_session.info.pop(_PENDING, False):
        notify()


def _after_rollback(sync_session: Session) -> None:
    sync_session.info.pop(_PENDING, None)


class WakeupSignal:
    """What wakes a waiting worker: ``NOTIFY`` on PostgreSQL, heard on a ``LISTEN``
    connection of its own, or this process's commits on SQLite; plus :meth:`set` for the
    worker's own reasons (a slot freed, stop requested).

    A dropped ``LISTEN`` connection is reopened by :meth:`check`, at most once per
    ``retry_interval``; until then the worker's slow poll covers for it.
    """

    def __init__(self, engine: AsyncEngine, *, retry_interval: float) -> None:
        self.engine = engine
        self.retry_interval = retry_interval
        self._event = asyncio.Event()
        self._listener: dialect.Listener | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._last_attempt = 0.0

    async def open(self) -> None:
        """Start listening."""
        if self.engine.dialect.name == "postgresql":
            await self._listen()
            return
        loop = asyncio.get_running_loop()

        def wake() -> None:
            # Commits may happen on another thread (or loop): hop onto ours.
            loop.call_soon_threadsafe(self._event.set)

        self._unsubscribe = subscribe(wake)

    async def close(self) -> None:
        """Stop listening."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    async def check(self) -> None:
        """Reopen a dropped ``LISTEN`` connection (and wake: notifications may be lost)."""
        if self.engine.dialect.name != "postgresql":
            return
        if self._listener is not None and self._listener.alive:
            return
        if time.monotonic() - self._last_attempt < self.retry_interval:
            return
        log.warning("worker.listener_reconnecting")
        await self._listen()
        self._event.set()

    def set(self) -> None:
        """Wake the waiter now (or its next wait)."""
        self._event.set()

    def clear(self) -> None:
        """Forget earlier wake-ups; call before looking for work, so none is missed."""
        self._event.clear()

    async def wait(self, seconds: float) -> None:
        """Return when woken, or after ``seconds``."""
        # asyncio.timeout, not wait_for: no extra task per wait.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()

    async def _listen(self) -> None:
        self._last_attempt = time.monotonic()
        try:
            self._listener = await dialect.listen(self.engine, CHANNEL, self._event.set)
        except Exception:
            log.exception("worker.listen_failed")
            self._listener = None
