"""Running one claimed job: call its handler, then record what came of it."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.db import dialect
from zakipost.logging import get_logger
from zakipost.worker import lease, wakeup
from zakipost.worker.context import JobContext
from zakipost.worker.errors import JobError, LeaseLost
from zakipost.worker.jobs import ClaimedJob, Clock
from zakipost.worker.registry import Task
from zakipost.worker.retry import RetryAction, describe
from zakipost.worker.wakeup import CHANNEL

log = get_logger("zakipost.worker")

# Claims the job to run next in this attempt's slot, in the outcome's own transaction.
ClaimNext = Callable[[AsyncSession], Awaitable[list[ClaimedJob]]]


class Outcome(enum.StrEnum):
    """How one attempt ended, as reported to ``Worker(on_outcome=...)``."""

    succeeded = "succeeded"  # the handler returned; the job is done
    failed = "failed"  # a permanent error or the last attempt; the job is done
    retried = "retried"  # back to todo after a backoff
    deferred = "deferred"  # back to todo at the handler's chosen time, attempt given back
    released = "released"  # given back unfinished (graceful stop), attempt given back
    lease_lost = "lease_lost"  # someone else holds the job now; nothing was recorded


class Execution:
    """One attempt at one job. The runner may cancel :attr:`handler_task` to give the job
    back (graceful stop); the attempt is then released rather than counted."""

    def __init__(
        self,
        ctx: JobContext,
        task: Task,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        claim_next: ClaimNext | None = None,
    ) -> None:
        self.ctx = ctx
        self.task = task
        self.handler_task: asyncio.Task[Any] | None = None
        # True once the attempt is over and only its outcome is left to write.
        self.recording = False
        # What ``claim_next`` claimed with the outcome, once that transaction committed.
        self.successors: list[ClaimedJob] = []
        # The outcome put the job back in the queue (a retry, a Defer, a release).
        self.requeued = False
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._claim_next = claim_next

    async def run(self) -> Outcome:
        """Run the attempt to its recorded outcome; never raises for a handler's error.

        Every log line of the attempt, the handler's and the runner's, carries ``job_id``,
        ``kind`` and ``attempt``, and whatever the handler bound with ``ctx.bind``."""
        job = self.ctx.job
        with structlog.contextvars.bound_contextvars(
            job_id=str(job.id), kind=job.kind, attempt=job.attempts
        ):
            return await self._run()

    async def _run(self) -> Outcome:
        job = self.ctx.job
        limit = job.max_attempts or self.task.retry.max_attempts
        if job.attempts > limit:
            # Only a claim that never reported back leaves attempts past the limit:
            # the worker died or stalled mid-run, every time.
            error = (
                f"gave up after {limit} attempts: the last one never finished "
                "(its worker died or lost the lease)"
            )
            return await self._record(Outcome.failed, error=error)
        try:
            bound = self.task.bind(self.ctx, job.payload)
        except TypeError as exc:
            error = f"payload does not fit task {job.kind!r}: {exc}"
            return await self._record(Outcome.failed, error=error)

        self.handler_task = asyncio.create_task(self.task.handler(*bound.args, **bound.kwargs))
        try:
            result = await self.handler_task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the runner itself is being torn down, not a graceful release
            if self.ctx.completed:
                return self._completed_by_handler()
            return await self._record(Outcome.released)
        except LeaseLost:
            if self.ctx.completed:
                return self._completed_by_handler()
            return self._lost()
        except Exception as exc:  # noqa: BLE001 - every handler error is classified, none escapes
            if self.ctx.completed:
                # The job is done (its completion committed); what failed after is logged.
                log.warning(
                    "job.error_after_completion", **self.ctx.log_fields, error=describe(exc)
                )
                return self._completed_by_handler()
            return await self._handle_error(exc)
        if self.ctx.completed:
            return self._completed_by_handler()
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            return await self._record(Outcome.failed, error=f"result is not JSON: {exc}")
        return await self._record(Outcome.succeeded, result=result)

    async def _handle_error(self, exc: Exception) -> Outcome:
        job = self.ctx.job
        decision = self.task.retry.decide(
            exc, attempts=job.attempts, now=self._clock(), max_attempts=job.max_attempts
        )
        if decision.action is RetryAction.defer:
            # "Not now" (a status check later, a rate limit, a schedule) is no error.
            assert decision.run_at is not None
            log.info(
                "job.deferred",
                **self.ctx.log_fields,
                reason=decision.error,
                run_at=decision.run_at.isoformat(),
            )
        else:
            # A JobError is the handler speaking on purpose; anything else is a surprise and
            # deserves its traceback in the log.
            expected = isinstance(exc, JobError)
            (log.info if expected else log.warning)(
                "job.error",
                **self.ctx.log_fields,
                action=str(decision.action),
                error=describe(exc),
                exc_info=not expected,
            )
        if decision.action is RetryAction.fail:
            return await self._record(Outcome.failed, error=decision.error)
        assert decision.run_at is not None
        outcome = Outcome.deferred if decision.action is RetryAction.defer else Outcome.retried
        return await self._record(outcome, error=decision.error, run_at=decision.run_at)

    async def _record(
        self,
        outcome: Outcome,
        *,
        error: str | None = None,
        result: Any = None,
        run_at: dt.datetime | None = None,
    ) -> Outcome:
        self.recording = True
        # Shielded: a cancellation arriving mid-write must not cut the transaction short.
        written = await asyncio.shield(self._write(outcome, error, result, run_at))
        if not written:
            return self._lost()
        log.info("job.done", **self.ctx.log_fields, outcome=str(outcome))
        return outcome

    async def _write(
        self, outcome: Outcome, error: str | None, result: Any, run_at: dt.datetime | None
    ) -> bool:
        job = self.ctx.job
        now = self._clock()
        idle = self.ctx.lease_seconds
        async with lease.transaction(self._sessionmaker, idle_seconds=idle) as session:
            if job.lock is not None:
                # Jobs waiting on this lock may run now: wake the workers (at commit).
                await dialect.notify(session, CHANNEL, job.kind)
                wakeup.notify_after_commit(session)
            if outcome is Outcome.succeeded:
                written = await lease.complete(session, job, now=now, result=result)
            elif outcome is Outcome.failed:
                written = await lease.fail(session, job, now=now, error=error or "")
            else:
                written = await lease.requeue(
                    session,
                    job,
                    now=now,
                    # A released job goes back at its own run_at: due again at once.
                    run_at=run_at or job.run_at,
                    error=error,
                    count_attempt=outcome is Outcome.retried,
                )
            # The next job for this slot, in the same transaction: one fewer per job while
            # work is queued. After the outcome, so a lock this job held counts as free.
            successors = await self._claim_next(session) if self._claim_next else []
        self.successors = successors
        self.requeued = outcome not in (Outcome.succeeded, Outcome.failed)
        return written

    def _completed_by_handler(self) -> Outcome:
        # The handler's last fenced transaction completed the job (JobContext.complete_in).
        log.info("job.done", **self.ctx.log_fields, outcome=str(Outcome.succeeded))
        return Outcome.succeeded

    def _lost(self) -> Outcome:
        self.ctx.mark_lease_lost()
        log.warning("job.lease_lost", **self.ctx.log_fields)
        return Outcome.lease_lost
