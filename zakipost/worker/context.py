"""What a running handler gets: its job, the clock, and fenced transactions."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.worker import lease
from zakipost.worker.errors import LeaseLost
from zakipost.worker.jobs import ClaimedJob, Clock


class JobContext:
    """The handle a handler receives as its first argument.

    Every database write a handler makes goes through :meth:`fenced`, so it lands only
    while this worker still holds the job's lease. Keep fenced transactions short and
    never hold one across network I/O: on SQLite it blocks every other writer.
    """

    def __init__(
        self,
        job: ClaimedJob,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        worker_id: str,
        lease_seconds: float = 60.0,
    ) -> None:
        self.job = job
        self.worker_id = worker_id
        # The length of this job's lease: also how long a fenced transaction may sit idle.
        self.lease_seconds = lease_seconds
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._lease_lost = False
        self.lease_expires_at = job.lease_expires_at
        # Fields the handler bound for its log lines (see bind).
        self.log_fields: dict[str, Any] = {}

    @property
    def attempt(self) -> int:
        """This attempt's number, 1 for the first run."""
        return self.job.attempts

    @property
    def payload(self) -> dict[str, Any]:
        """The job's payload, as given to enqueue."""
        return self.job.payload

    @property
    def lease_lost(self) -> bool:
        """True once this worker learnt that the lease is gone (heartbeat or fence)."""
        return self._lease_lost

    def now(self) -> dt.datetime:
        """The worker's clock."""
        return self._clock()

    def bind(self, **fields: Any) -> None:
        """Add ``fields`` to every later log line of this attempt: the handler's own (bound
        in its task's context) and the runner's (``job.deferred``, ``job.done``...), which
        run outside the handler's task."""
        self.log_fields.update(fields)
        structlog.contextvars.bind_contextvars(**fields)

    def mark_lease_lost(self) -> None:
        """Record that the lease is gone (called by the heartbeat)."""
        self._lease_lost = True

    @asynccontextmanager
    async def fenced(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits only if this worker still holds a live lease.

        It first checks the lease and locks the job's row (PostgreSQL ``FOR UPDATE``;
        SQLite's write lock), so no other worker can take the job over until it commits:
        a stalled worker can never overwrite what a newer holder wrote. Raises
        ``LeaseLost`` (and rolls back) when the lease is gone. Commits on a clean exit,
        rolls back if the block raises. On PostgreSQL the server ends the transaction if it
        sits idle longer than the lease, so a frozen worker cannot hold the job forever.
        """
        if self._lease_lost:
            raise LeaseLost(f"the lease of {self.worker_id} on job {self.job.id} was lost")
        async with lease.transaction(
            self._sessionmaker, idle_seconds=self.lease_seconds
        ) as session:
            try:
                self.lease_expires_at = await lease.hold(session, self.job, now=self.now())
            except LeaseLost:
                self._lease_lost = True
                raise
            yield session
