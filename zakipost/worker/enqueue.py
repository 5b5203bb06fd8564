"""Queueing a job: an INSERT in the caller's transaction, so it commits or rolls back with
the caller's own writes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from zakipost.db import dialect
from zakipost.db.engine import AppSession
from zakipost.kit.clock import utcnow
from zakipost.models.job import Job, JobStatus
from zakipost.worker import wakeup
from zakipost.worker.wakeup import CHANNEL


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: dt.datetime | None = None,
    priority: int = 0,
    lock: str | None = None,
    queueing_lock: str | None = None,
    max_attempts: int | None = None,
    now: dt.datetime | None = None,
) -> uuid.UUID | None:
    """Queue ``kind`` with ``payload`` (the handler's keyword arguments) in ``session``'s
    transaction; the new job's id, or None when a queued job already holds ``queueing_lock``.

    Nothing is committed here: the job exists once the caller commits, and vanishes if the
    caller rolls back. A duplicate does not raise and leaves the transaction usable. At
    commit, waiting workers are woken (``NOTIFY`` on PostgreSQL, an in-process signal).

    ``run_at`` defaults to ``now`` (itself defaulting to the current time); ``lock``
    serializes jobs that share it; ``max_attempts`` overrides the task's RetryStrategy.
    """
    values = job_values(
        kind,
        payload,
        run_at=run_at,
        priority=priority,
        lock=lock,
        queueing_lock=queueing_lock,
        max_attempts=max_attempts,
        now=now,
    )
    return await session.run_sync(_insert, values)


def enqueue_sync(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: dt.datetime | None = None,
    priority: int = 0,
    lock: str | None = None,
    queueing_lock: str | None = None,
    max_attempts: int | None = None,
    now: dt.datetime | None = None,
) -> uuid.UUID | None:
    """:func:`enqueue` for the synchronous session under an ``AsyncSession``: for commit
    hooks (``before_commit``), which run inside the async session's commit and cannot await.
    """
    values = job_values(
        kind,
        payload,
        run_at=run_at,
        priority=priority,
        lock=lock,
        queueing_lock=queueing_lock,
        max_attempts=max_attempts,
        now=now,
    )
    return _insert(session, values)


def _insert(session: Session, values: dict[str, Any]) -> uuid.UUID | None:
    # One prebuilt statement inserts and, on PostgreSQL, notifies (dialect.py).
    if not dialect.insert_job_notifying_sync(session, values, CHANNEL):
        return None
    wake_after_commit(session)
    job_id: uuid.UUID = values["id"]
    return job_id


_WAKE = "zakipost.worker.enqueue.wake"


def wake_after_commit(session: Session) -> None:
    """``wakeup.notify_after_commit``, without adding listeners to each session: the app's
    sessions (``AppSession``) have class-level ones below, a cost paid once, not per job.
    For callers that insert a job with a statement of their own."""
    if isinstance(session, AppSession):
        session.info[_WAKE] = True
    else:
        wakeup.notify_after_commit(session)


@event.listens_for(AppSession, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WAKE, False):
        wakeup.notify()


@event.listens_for(AppSession, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_WAKE, None)


def job_values(
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: dt.datetime | None = None,
    priority: int = 0,
    lock: str | None = None,
    queueing_lock: str | None = None,
    max_attempts: int | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The row :func:`enqueue` inserts, also for callers that insert it with a statement of
    their own (and then call :func:`wake_after_commit`)."""
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must be an aware datetime")
    if max_attempts is not None and max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    now = now or utcnow()
    return {
        "id": uuid.uuid4(),
        "kind": kind,
        "payload": payload or {},
        "status": JobStatus.todo,
        "priority": priority,
        "run_at": run_at or now,
        "attempts": 0,
        "max_attempts": max_attempts,
        "lease_generation": 0,
        "lock": lock,
        "queueing_lock": queueing_lock,
        "created_at": now,
        "updated_at": now,
    }


async def cancel(
    session: AsyncSession, job_id: uuid.UUID, *, now: dt.datetime | None = None
) -> bool:
    """Withdraw a queued job in the caller's transaction; False if it is no longer queued.

    A running job cannot be cancelled from outside: the domain state it works on should
    say "stop", and the handler checks it (in a fenced transaction) before each step.
    """
    now = now or utcnow()
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.todo)
        .values(status=JobStatus.cancelled, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def move_job(
    session: AsyncSession,
    queueing_lock: str,
    run_at: dt.datetime,
    *,
    now: dt.datetime | None = None,
) -> bool:
    """Move the queued job holding ``queueing_lock`` to ``run_at`` (a rescheduled post), in
    the caller's transaction; False if no such job is queued."""
    if run_at.tzinfo is None:
        raise ValueError("run_at must be an aware datetime")
    moved = (
        await session.execute(
            update(Job)
            .where(Job.queueing_lock == queueing_lock, Job.status == JobStatus.todo)
            .values(run_at=run_at, updated_at=now or utcnow())
            .returning(Job.kind)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if moved is None:
        return False
    # Moved earlier, it may be due before a waiting worker means to look again.
    await dialect.notify(session, CHANNEL, moved.kind)
    wakeup.notify_after_commit(session)
    return True
