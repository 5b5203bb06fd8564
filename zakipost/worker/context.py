"""What a running handler gets: its job, the clock, and fenced transactions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.db import dialect
from zakipost.worker import lease, wakeup
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
        # complete_in: the result a fenced transaction is completing the job with, and
        # whether one committed (then the runner records nothing more).
        self._completing: tuple[Any] | None = None
        self._completed = False

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
        """True once this worker learnt that the lease is gone (heartbeat or fence), or
        gave it up by completing the job (:meth:`complete_in`): nothing renews it then."""
        return self._lease_lost or self._completed

    def now(self) -> dt.datetime:
        """The worker's clock."""
        return self._clock()

    def bind(self, **fields: Any) -> None:
        """Add ``fields`` to every later log line of this attempt: the handler's own (bound
        in its task's context) and the runner's (``job.deferred``, ``job.done``...), which
        run outside the handler's task."""
        self.log_fields.update(fields)
        structlog.contextvars.bind_contextvars(**fields)

    @property
    def completed(self) -> bool:
        """True once a fenced transaction that completed the job (:meth:`complete_in`)
        has committed: the job is succeeded, and nothing of it may be written again."""
        return self._completed

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
        if self._completed:
            raise LeaseLost(f"job {self.job.id} is already completed")
        self._completing = None
        async with lease.transaction(
            self._sessionmaker, idle_seconds=self.lease_seconds
        ) as session:
            try:
                self.lease_expires_at = await lease.hold(session, self.job, now=self.now())
            except LeaseLost:
                self._lease_lost = True
                raise
            yield session
        self._completed = self._completing is not None

    async def complete_in(self, session: AsyncSession, result: Any) -> None:
        """Mark the job succeeded with ``result`` in the fenced transaction ``session``,
        so the handler's last write and the job's completion commit together (or neither
        does). Once that transaction commits the handler only returns (``result``): the
        runner records nothing more, and a later ``fenced`` raises ``LeaseLost``."""
        json.dumps(result)  # what the runner would refuse, refused before anything commits
        if not await lease.complete(session, self.job, now=self.now(), result=result):
            raise LeaseLost(f"job {self.job.id} is no longer held by {self.worker_id}")
        if self.job.lock is not None:
            # Jobs waiting on this lock may run now: wake the workers (at commit).
            await dialect.notify(session, wakeup.CHANNEL, self.job.kind)
            wakeup.notify_after_commit(session)
        self._completing = (result,)
