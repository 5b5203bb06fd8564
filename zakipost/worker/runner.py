"""The worker: a claim loop with up to N jobs in flight, a heartbeat, and wake-ups."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from zakipost.kit.clock import utcnow
from zakipost.logging import get_logger
from zakipost.worker import lease, liveness
from zakipost.worker.context import JobContext
from zakipost.worker.execute import Execution, Outcome
from zakipost.worker.heartbeat import interval as heartbeat_interval
from zakipost.worker.heartbeat import renew_leases
from zakipost.worker.jobs import ClaimedJob, Clock
from zakipost.worker.registry import TaskRegistry
from zakipost.worker.schedule import ensure_scheduled
from zakipost.worker.wakeup import WakeupSignal

log = get_logger("zakipost.worker")

OutcomeHook = Callable[[ClaimedJob, Outcome], Any]


class Worker:
    """Claims and runs jobs of the registry's kinds against one database.

    - ``start()``/``stop()`` run it in the background of another app (the web process);
      ``run_forever()`` runs it until SIGTERM/SIGINT (the CLI); ``run_until_idle()`` runs
      the due jobs inline until none are left (tests, one-shot commands).
    - Up to ``concurrency`` jobs run at once. A heartbeat renews their leases every
      ``lease_seconds / 3``; a job whose lease expires is claimed again by any worker.
    - New work wakes the loop at once: ``LISTEN`` on PostgreSQL, an in-process signal on
      SQLite; every ``poll_interval`` seconds it looks anyway (the safety net), and it
      sleeps no longer than until the next known ``run_at``.
    - ``stop(grace_seconds)`` stops claiming, lets running jobs finish for up to
      ``grace_seconds`` (None: as long as they take), then releases the rest back to the
      queue. ``run_forever`` stops with the constructor's ``grace_seconds``.
    - While started it keeps a row in ``worker_processes`` (:mod:`zakipost.worker.liveness`)
      saying what it ``serves``, moved every ``presence_interval`` seconds and deleted on
      stop, so readiness checks and queued posts can tell whether any worker is alive.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        *,
        concurrency: int = 4,
        lease_seconds: float = 60.0,
        poll_interval: float = 5.0,
        worker_id: str | None = None,
        clock: Clock = utcnow,
        grace_seconds: float | None = None,
        on_outcome: OutcomeHook | None = None,
        serves: dict[str, Any] | None = None,
        presence_interval: float = liveness.BEAT_SECONDS,
    ) -> None:
        if concurrency < 1 or lease_seconds <= 0 or poll_interval <= 0:
            raise ValueError("concurrency, lease_seconds and poll_interval must be positive")
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.grace_seconds = grace_seconds
        self.on_outcome = on_outcome
        self.presence = liveness.Presence(
            worker_id=self.worker_id, concurrency=concurrency, serves=dict(serves or {})
        )
        self.presence_interval = presence_interval
        # Set while the loop sleeps with free slots: everything due has been claimed.
        self.waiting = asyncio.Event()
        self._wakeup = WakeupSignal(self.engine, retry_interval=poll_interval)
        self._running: dict[asyncio.Task[None], Execution] = {}
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._presence_task: asyncio.Task[None] | None = None
        # When the periodic schedule next needs a look (None: at the next cycle).
        self._schedule_at: dt.datetime | None = None

    @property
    def engine(self) -> AsyncEngine:
        """The engine the sessionmaker is bound to."""
        bind = self.sessionmaker.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            raise TypeError("the worker's sessionmaker must be bound to an AsyncEngine")
        return bind

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start claiming in the background (returns at once)."""
        if self._loop_task is not None:
            raise RuntimeError("worker already started")
        self._stopping = False
        self._schedule_at = None
        self.waiting.clear()
        await self._wakeup.open()
        await self._record_presence(liveness.register)
        self._presence_task = asyncio.create_task(self._presence_loop())
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop())
        self._loop_task = asyncio.create_task(self._loop())
        log.info(
            "worker.started",
            worker_id=self.worker_id,
            kinds=sorted(self.registry.names),
            serves=self.presence.serves,
        )

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Stop claiming; wait up to ``grace_seconds`` for running jobs (None: until they
        finish), then release the rest back to the queue with their attempt given back."""
        if self._loop_task is None:
            return
        self._stopping = True
        self._wakeup.set()
        try:
            await self._loop_task
        except asyncio.CancelledError:
            pass
        except Exception:
            # Still drain: running jobs should finish or go back to the queue.
            log.exception("worker.loop_crashed", worker_id=self.worker_id)
        await self._drain(grace_seconds)
        for background in (self._heartbeat_task, self._presence_task):
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
        await self._forget_presence()
        await self._wakeup.close()
        self._loop_task = self._heartbeat_task = self._presence_task = None
        log.info("worker.stopped", worker_id=self.worker_id)

    async def run_forever(self) -> None:
        """Run until SIGTERM or SIGINT, then stop gracefully (``grace_seconds``)."""
        await self.start()
        assert self._loop_task is not None
        loop = asyncio.get_running_loop()
        stop_requested = asyncio.Event()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, stop_requested.set)
        loop_task = self._loop_task
        try:
            requested = asyncio.create_task(stop_requested.wait())
            await asyncio.wait({requested, loop_task}, return_when=asyncio.FIRST_COMPLETED)
            requested.cancel()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            await self.stop(self.grace_seconds)
        if loop_task.done() and not loop_task.cancelled() and loop_task.exception():
            raise RuntimeError("the worker loop crashed") from loop_task.exception()

    async def run_until_idle(self, *, max_jobs: int | None = None) -> int:
        """Run due jobs inline, ``concurrency`` at a time, until none is due; how many ran.

        Jobs queued while running (follow-ups, retries due now) run too; ``max_jobs``
        bounds the total. Periodic jobs are not scheduled here (see ``schedule_periodic``).
        """
        if self._loop_task is not None:
            raise RuntimeError("run_until_idle() cannot run while the worker is started")
        heartbeat = asyncio.create_task(self._heartbeat_loop())
        count = 0
        try:
            while max_jobs is None or count < max_jobs:
                limit = (
                    self.concurrency
                    if max_jobs is None
                    else min(self.concurrency, max_jobs - count)
                )
                jobs, _ = await self._claim(limit)
                if not jobs:
                    break
                count += len(jobs)
                await asyncio.gather(*(self._spawn(job) for job in jobs))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return count

    # -- the loop ----------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            # Outcomes being written: let them finish first, so their slots count as free
            # and the wake-ups they send (their commit, their slot) are not seen twice.
            await self._settle()
            # Before the clear: the wake-up of what it queues would only repeat the claim.
            await self._maybe_schedule()
            self._wakeup.clear()
            if self._stopping:  # after the clear: stop() sets the wake-up after the flag
                return
            await self._wakeup.check()
            free = self.concurrency - len(self._running)
            timeout = self.poll_interval
            if free > 0:
                jobs, due = await self._claim(free, next_due=True)
                for job in jobs:
                    self._spawn(job)
                if len(jobs) == free:
                    continue  # maybe more due: claim again once a slot frees
                timeout = self._idle_timeout(due)
                self.waiting.set()
            await self._wakeup.wait(timeout)
            self.waiting.clear()

    async def _claim(
        self, limit: int, *, next_due: bool = False
    ) -> tuple[list[ClaimedJob], dt.datetime | None]:
        """Up to ``limit`` jobs; with ``next_due``, and when fewer came back, also when the
        next one becomes claimable, read in the claim's transaction."""
        by_kind = self._lease_seconds_by_kind()
        kinds = self.registry.names
        # Two tries: on PostgreSQL a concurrent claim of the same lock aborts one claimer
        # (unique running lock), which then sees the winner and passes over that lock.
        for _ in range(2):
            try:
                async with self._transaction() as session:
                    now = self.clock()
                    jobs = await lease.claim(
                        session,
                        owner=self.worker_id,
                        kinds=kinds,
                        limit=limit,
                        now=now,
                        lease_seconds=self.lease_seconds,
                        lease_seconds_by_kind=by_kind,
                    )
                    due = None
                    if next_due and len(jobs) < limit:
                        due = await lease.next_due(session, kinds, now=now)
                    return jobs, due
            except IntegrityError:
                log.debug("worker.claim_conflict", worker_id=self.worker_id)
            except Exception:
                log.exception("worker.claim_failed", worker_id=self.worker_id)
                return [], None
        return [], None

    def _spawn(self, job: ClaimedJob) -> asyncio.Task[None]:
        task = self.registry.get(job.kind)
        ctx = JobContext(
            job,
            sessionmaker=self.sessionmaker,
            clock=self.clock,
            worker_id=self.worker_id,
            lease_seconds=task.lease_seconds or self.lease_seconds,
        )
        execution = Execution(
            ctx,
            task,
            sessionmaker=self.sessionmaker,
            clock=self.clock,
            claim_next=self._claim_successor if self._loop_task is not None else None,
        )
        running = asyncio.create_task(self._execute(execution))
        self._running[running] = execution
        running.add_done_callback(self._finished)
        return running

    async def _execute(self, execution: Execution) -> None:
        job = execution.ctx.job
        try:
            outcome = await execution.run()
        except Exception:
            # The outcome could not be written (database gone?): the lease will expire and
            # the job will be claimed again.
            log.exception("job.unrecorded", job_id=str(job.id), kind=job.kind)
            return
        finally:
            # The job claimed with the outcome takes over the slot; without one, free the
            # slot at once (rather than in the done callback, an iteration later) and wake
            # the loop to fill it. A job put back in the queue wakes it either way: the
            # loop's sleep was timed without this job's new run_at.
            for successor in execution.successors:
                self._spawn(successor)
            current = asyncio.current_task()
            if current is not None:
                wake = not execution.successors or execution.requeued
                self._finished(current, wake=wake)
        if job.queueing_lock and job.queueing_lock.startswith("periodic:"):
            # Its next occurrence may be due for scheduling now (it was held up by this one).
            self._schedule_at = None
            self._wakeup.set()
        if self.on_outcome is not None:
            self.on_outcome(job, outcome)

    def _finished(self, task: asyncio.Task[None], *, wake: bool = True) -> None:
        if self._running.pop(task, None) is not None and wake:
            self._wakeup.set()

    async def _claim_successor(self, session: AsyncSession) -> list[ClaimedJob]:
        """Claim one job for a slot that a job is giving back, in its outcome's transaction
        (a savepoint: a conflicting claim must not undo the outcome)."""
        if self._stopping:
            return []
        try:
            async with session.begin_nested():
                return await lease.claim(
                    session,
                    owner=self.worker_id,
                    kinds=self.registry.names,
                    limit=1,
                    now=self.clock(),
                    lease_seconds=self.lease_seconds,
                    lease_seconds_by_kind=self._lease_seconds_by_kind(),
                )
        except IntegrityError:
            log.debug("worker.claim_conflict", worker_id=self.worker_id)
        except Exception:
            # The outcome matters more: the loop claims for this slot instead.
            log.exception("worker.claim_failed", worker_id=self.worker_id)
        return []

    def _lease_seconds_by_kind(self) -> dict[str, float]:
        return {t.name: t.lease_seconds for t in self.registry.tasks if t.lease_seconds}

    async def _settle(self) -> None:
        recording = [task for task, e in self._running.items() if e.recording]
        if recording:
            await asyncio.wait(recording)

    async def _drain(self, grace_seconds: float | None) -> None:
        if not self._running:
            return
        _, pending = await asyncio.wait(set(self._running), timeout=grace_seconds)
        for task in pending:
            handler = self._running[task].handler_task
            if handler is not None and not handler.done():
                handler.cancel()  # the execution releases the job
        if pending:
            await asyncio.wait(pending)

    def _idle_timeout(self, due: dt.datetime | None) -> float:
        """How long to sleep with nothing claimable: until ``due`` (the next job's), the
        schedule's next look, or ``poll_interval``, whichever comes first."""
        now = self.clock()
        timeout = self.poll_interval
        for when in (due, self._schedule_at):
            if when is None:
                continue
            seconds = (when - now).total_seconds()
            # Due already but not claimable (its lock is busy, or another worker is taking
            # it): the next wake-up or poll will tell.
            if seconds > 0:
                timeout = min(timeout, seconds)
        return timeout

    # -- heartbeat, schedule, wake-ups ---------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(heartbeat_interval(self.registry, self.lease_seconds))
            await self.heartbeat()

    async def heartbeat(self) -> None:
        """Renew the leases of every running job now; mark those found lost."""
        try:
            await renew_leases(
                self.sessionmaker,
                list(self._running.values()),
                now=self.clock(),
                lease_seconds=self.lease_seconds,
            )
        except Exception:
            log.exception("worker.heartbeat_failed", worker_id=self.worker_id)

    async def beat(self) -> None:
        """Say this worker is alive now (``worker_processes.last_seen_at``)."""
        await self._record_presence(liveness.beat)

    async def _presence_loop(self) -> None:
        while True:
            await asyncio.sleep(self.presence_interval)
            await self.beat()

    async def _record_presence(self, write: Callable[..., Awaitable[None]]) -> None:
        # Liveness is advisory: a database hiccup here must not stop the jobs.
        try:
            async with self._transaction() as session:
                await write(session, self.presence, now=self.clock())
        except Exception:
            log.exception("worker.presence_failed", worker_id=self.worker_id)

    async def _forget_presence(self) -> None:
        try:
            async with self._transaction() as session:
                await liveness.unregister(session, self.worker_id)
        except Exception:
            log.exception("worker.presence_failed", worker_id=self.worker_id)

    async def schedule_periodic(self, *, now: dt.datetime | None = None) -> list[uuid.UUID]:
        """Make sure the next occurrence of every periodic job exists; the new job ids."""
        periodics = list(self.registry.periodics)
        if not periodics:
            return []
        async with self._transaction() as session:
            return await ensure_scheduled(session, periodics, now=now or self.clock())

    def _transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        return lease.transaction(self.sessionmaker, idle_seconds=self.lease_seconds)

    async def _maybe_schedule(self) -> None:
        """Look at the periodic schedule only when something can have changed: at start,
        when the earliest next slot arrives (the occurrence queued for it becomes due, so
        the one after it needs queueing), or after a periodic job's run (a run still queued
        or retrying when its slot came held that slot up). Other workers' schedules are
        kept single by the queueing_lock and the key locks, not by this."""
        now = self.clock()
        if self._schedule_at is not None and now < self._schedule_at:
            return
        periodics = list(self.registry.periodics)
        try:
            await self.schedule_periodic(now=now)
        except Exception:
            log.exception("worker.schedule_failed", worker_id=self.worker_id)
            self._schedule_at = now + dt.timedelta(seconds=self.poll_interval)
            return
        if periodics:
            self._schedule_at = min(p.next_at(now) for p in periodics)
        else:
            self._schedule_at = dt.datetime.max.replace(tzinfo=dt.UTC)
