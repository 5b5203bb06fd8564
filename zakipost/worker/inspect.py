"""What operators read and do about jobs without SQL: list and show them (with their lease
and last error), run a failed or queued one again now, withdraw a queued one.

Used by ``zakipost jobs`` and the read-only jobs of a post in the API. Nothing here knows
what a job does; callers that do (posts) add their own view.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.db import dialect
from zakipost.errors import AppError, NotFound
from zakipost.models.job import Job, JobStatus
from zakipost.worker import wakeup
from zakipost.worker.enqueue import cancel as cancel_queued
from zakipost.worker.wakeup import CHANNEL

MAX_LIST = 500


class JobNotFound(NotFound):
    """No job with this id."""

    code = "job_not_found"


class JobNotChangeable(AppError):
    """The job is in a state the change does not apply to (the message says which)."""

    status_code = 409
    code = "job_not_changeable"


def lease_live(job: Job, *, now: dt.datetime) -> bool:
    """A worker holds the job now (a ``doing`` job past its lease lost its worker)."""
    return (
        job.status is JobStatus.doing
        and job.lease_expires_at is not None
        and job.lease_expires_at > now
    )


def describe(job: Job, *, now: dt.datetime) -> dict[str, Any]:
    """A job as operators read it (JSON-ready)."""

    def when(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": str(job.id),
        "kind": job.kind,
        "status": job.status.value,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at": when(job.run_at),
        "lease_owner": job.lease_owner,
        "lease_expires_at": when(job.lease_expires_at),
        # A `doing` job whose lease expired: its worker died; any worker may take it.
        "lease_live": lease_live(job, now=now),
        "heartbeat_at": when(job.heartbeat_at),
        "last_error": job.last_error,
        "lock": job.lock,
        "payload": job.payload,
        "created_at": when(job.created_at),
        "finished_at": when(job.finished_at),
    }


async def list_jobs(
    session: AsyncSession,
    *,
    kinds: Collection[str] = (),
    statuses: Collection[JobStatus] = (),
    locks: Collection[str] = (),
    limit: int = 50,
) -> Sequence[Job]:
    """Jobs matching every filter given, newest first."""
    query = select(Job).order_by(Job.created_at.desc(), Job.id).limit(min(limit, MAX_LIST))
    if kinds:
        query = query.where(Job.kind.in_(list(kinds)))
    if statuses:
        query = query.where(Job.status.in_(list(statuses)))
    if locks:
        query = query.where(Job.lock.in_(list(locks)))
    return (await session.scalars(query)).all()


async def get_job(session: AsyncSession, job_id: uuid.UUID, *, lock: bool = False) -> Job:
    """The job (locked for update with ``lock``), or :class:`JobNotFound`."""
    query = select(Job).where(Job.id == job_id)
    if lock:
        query = query.with_for_update()
    job = await session.scalar(query)
    if job is None:
        raise JobNotFound(f"No job with id {job_id}.")
    return job


async def retry(session: AsyncSession, job_id: uuid.UUID, *, now: dt.datetime) -> Job:
    """Run the job again now: a failed or cancelled job goes back to the queue with its
    attempts reset; a queued one becomes due now. Running and succeeded jobs are left alone."""
    job = await get_job(session, job_id, lock=True)
    if job.status in (JobStatus.doing, JobStatus.succeeded):
        raise JobNotChangeable(
            f"Job {job_id} is {job.status.value}; only failed, cancelled or queued jobs can be "
            "run again (a running job whose worker died is taken over when its lease expires)."
        )
    values: dict[str, Any] = {"run_at": now, "updated_at": now}
    if job.status is not JobStatus.todo:
        values |= {
            "status": JobStatus.todo,
            "attempts": 0,
            "finished_at": None,
            "lease_owner": None,
            "lease_expires_at": None,
        }
    try:
        async with session.begin_nested():
            await session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        raise JobNotChangeable(
            f"Another job holding {job.queueing_lock!r} is already queued; run that one instead."
        ) from None
    await dialect.notify(session, CHANNEL, job.kind)
    wakeup.notify_after_commit(session)
    await session.refresh(job)
    return job


async def cancel(session: AsyncSession, job_id: uuid.UUID, *, now: dt.datetime) -> Job:
    """Withdraw a queued job (``todo``); anything else is refused with the reason."""
    job = await get_job(session, job_id, lock=True)
    if not await cancel_queued(session, job_id, now=now):
        raise JobNotChangeable(
            f"Job {job_id} is {job.status.value}; only queued jobs can be cancelled (a "
            "running job stops when the state it works on says so)."
        )
    await session.refresh(job)
    return job
