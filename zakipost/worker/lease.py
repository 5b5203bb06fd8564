"""Leases: claiming due jobs, renewing, and every state change a holder makes.

Every write here after the claim is conditioned on the holder's fencing token
``(id, status = doing, lease_owner, lease_generation)``; a holder whose lease was
taken over changes nothing and learns it from the return value (or ``LeaseLost``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.db import dialect
from zakipost.db.dialect import JOBS
from zakipost.db.types import UTCDateTime
from zakipost.models.job import JobStatus
from zakipost.worker.errors import LeaseLost
from zakipost.worker.jobs import ClaimedJob
from zakipost.worker.retry import truncate

c = JOBS.c
_RETURNING = [
    c.id,
    c.kind,
    c.payload,
    c.priority,
    c.run_at,
    c.attempts,
    c.max_attempts,
    c.lock,
    c.queueing_lock,
    c.lease_owner,
    c.lease_generation,
    c.lease_expires_at,
]


def _held(job: ClaimedJob) -> ColumnElement[bool]:
    return and_(
        c.id == job.id,
        c.status == JobStatus.doing,
        c.lease_owner == job.lease_owner,
        c.lease_generation == job.lease_generation,
    )


# The fence's statement, built once with the fencing token as bound parameters: every
# fenced transaction runs it, and building it (and its cache key) anew each time was a
# measurable part of a post. FOR UPDATE: PostgreSQL locks the row; SQLite renders none.
_HOLD = (
    select(c.lease_expires_at)
    .where(
        c.id == bindparam("held_id"),
        c.status == JobStatus.doing,
        c.lease_owner == bindparam("held_owner"),
        c.lease_generation == bindparam("held_generation"),
    )
    .with_for_update()
)


def _claimable(kinds: Collection[str], now: Any) -> ColumnElement[bool]:
    """Due ``todo`` jobs and ``doing`` jobs whose lease expired (their worker died or
    stalled), of the given kinds, that their lock lets run now."""
    other = JOBS.alias("other")
    due = and_(c.status == JobStatus.todo, c.run_at <= now)
    expired = and_(c.status == JobStatus.doing, c.lease_expires_at <= now)
    precedes = or_(
        other.c.priority > c.priority,
        and_(
            other.c.priority == c.priority,
            or_(other.c.run_at < c.run_at, and_(other.c.run_at == c.run_at, other.c.id < c.id)),
        ),
    )
    lock_free = or_(
        c.lock.is_(None),
        # An expired holder is the lock's only `doing` job (unique index): it goes first.
        c.status == JobStatus.doing,
        and_(
            ~exists().where(other.c.lock == c.lock, other.c.status == JobStatus.doing),
            # Jobs sharing a lock run in claim order. Checking for an earlier *queued* job
            # (not just a running one) is what keeps two concurrent claimers, which cannot
            # see each other's uncommitted claims, from starting two jobs of one lock.
            ~exists().where(
                other.c.lock == c.lock,
                other.c.id != c.id,
                other.c.status == JobStatus.todo,
                other.c.run_at <= now,
                precedes,
            ),
        ),
    )
    return and_(c.kind.in_(kinds), or_(due, expired), lock_free)


@lru_cache(maxsize=64)
def _claim_statement(
    kinds: frozenset[str], lease_seconds: float, by_kind: tuple[tuple[str, float], ...]
) -> tuple[Select[tuple[uuid.UUID]], dict[str, Any]]:
    """The claim's candidates and the values it sets but the owner, for one worker's
    kinds and lease lengths: built once (building it cost ~1.5 ms a claim); each claim binds
    ``claim_now``, ``claim_limit`` and the expiries (:func:`_claim_params`)."""
    now = bindparam("claim_now", type_=UTCDateTime())
    limit = bindparam("claim_limit", type_=Integer())
    candidates = (
        select(c.id)
        .where(_claimable(kinds, now))
        .order_by(c.priority.desc(), c.run_at, c.id)
        .limit(limit)
    )
    expires: Any = bindparam("claim_expires", type_=UTCDateTime())
    if by_kind:
        expires = case(
            {
                kind: bindparam(f"claim_expires_{n}", type_=UTCDateTime())
                for n, (kind, _seconds) in enumerate(by_kind)
            },
            value=c.kind,
            else_=expires,
        )
    values = {
        "status": JobStatus.doing,
        "lease_expires_at": expires,
        "heartbeat_at": now,
        "attempts": c.attempts + 1,
        "lease_generation": c.lease_generation + 1,
        "updated_at": now,
    }
    return candidates, values


def _claim_params(
    now: dt.datetime,
    limit: int,
    lease_seconds: float,
    by_kind: tuple[tuple[str, float], ...],
) -> dict[str, Any]:
    """The values one claim binds into :func:`_claim_statement`."""
    params: dict[str, Any] = {
        "claim_now": now,
        "claim_limit": limit,
        "claim_expires": now + dt.timedelta(seconds=lease_seconds),
    }
    for n, (_kind, seconds) in enumerate(by_kind):
        params[f"claim_expires_{n}"] = now + dt.timedelta(seconds=seconds)
    return params


async def claim(
    session: AsyncSession,
    *,
    owner: str,
    kinds: Collection[str],
    limit: int,
    now: dt.datetime,
    lease_seconds: float,
    lease_seconds_by_kind: Mapping[str, float] | None = None,
) -> list[ClaimedJob]:
    """Take up to ``limit`` claimable jobs for ``owner`` in one statement, highest priority,
    then earliest ``run_at`` first: status ``doing``, a fresh lease, attempts + 1.

    On PostgreSQL a concurrent claimer that slipped past the lock check makes this raise
    ``IntegrityError`` (unique running lock); roll back and claim again.
    """
    if limit < 1 or not kinds:
        return []
    by_kind = tuple(sorted((lease_seconds_by_kind or {}).items()))
    candidates, values = _claim_statement(frozenset(kinds), float(lease_seconds), by_kind)
    rows = await dialect.update_skip_locked(
        session,
        candidates,
        {**values, "lease_owner": owner},
        _RETURNING,
        _claim_params(now, limit, float(lease_seconds), by_kind),
    )
    jobs = [ClaimedJob(**row._asdict()) for row in rows]
    return sorted(jobs, key=lambda j: (-j.priority, j.run_at, str(j.id)))


async def hold(session: AsyncSession, job: ClaimedJob, *, now: dt.datetime) -> dt.datetime:
    """Check that ``job``'s lease is still held and live, and keep it so until the
    transaction ends (row lock); its expiry. ``LeaseLost`` otherwise."""
    row = await dialect.lock_job(
        session,
        _HOLD,
        {"held_id": job.id, "held_owner": job.lease_owner, "held_generation": job.lease_generation},
    )
    if row is None:
        raise LeaseLost(f"job {job.id} is no longer held by {job.lease_owner}")
    expires_at: dt.datetime = row.lease_expires_at
    if expires_at <= now:
        raise LeaseLost(f"the lease of {job.lease_owner} on job {job.id} expired")
    return expires_at


async def renew(
    session: AsyncSession, job: ClaimedJob, *, now: dt.datetime, lease_seconds: float
) -> dt.datetime | None:
    """Extend a live lease; the lease's expiry afterwards, or None if it is lost or expired.

    A job row locked by another transaction (this job's own fenced write, most likely) is
    not waited for: its expiry comes back unchanged and the next beat extends it. So one
    handler's long transaction cannot stall the heartbeat of its siblings.
    """
    renewed = await renew_all(session, [job], now=now, lease_seconds=lease_seconds)
    return renewed[job.id]


async def renew_all(
    session: AsyncSession, jobs: Sequence[ClaimedJob], *, now: dt.datetime, lease_seconds: float
) -> dict[uuid.UUID, dt.datetime | None]:
    """:func:`renew` for several jobs in one statement (and, for those it passed over, one
    read): each job's expiry afterwards, None for the leases lost or expired."""
    if not jobs:
        return {}
    expires_at = now + dt.timedelta(seconds=lease_seconds)
    target = select(c.id).where(or_(*(_held(job) for job in jobs)), c.lease_expires_at > now)
    values = {"lease_expires_at": expires_at, "heartbeat_at": now, "updated_at": now}
    rows = await dialect.update_skip_locked(session, target, values, [c.id])
    result: dict[uuid.UUID, dt.datetime | None] = dict.fromkeys((r.id for r in rows), expires_at)
    passed_over = [job for job in jobs if job.id not in result]
    current: dict[uuid.UUID, dt.datetime] = {}
    if passed_over:
        read = select(c.id, c.lease_expires_at).where(or_(*(_held(job) for job in passed_over)))
        current = {r.id: r.lease_expires_at for r in await session.execute(read)}
    for job in passed_over:
        expiry = current.get(job.id)
        result[job.id] = expiry if expiry is not None and expiry > now else None
    return result


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession], *, idle_seconds: float
) -> AsyncIterator[AsyncSession]:
    """A worker transaction that the database ends if its client stalls for ``idle_seconds``
    (a lease's length), so a frozen worker's locks cannot outlive its leases."""
    async with sessionmaker() as session, session.begin():
        await dialect.limit_idle(session, idle_seconds)
        yield session


def _param(name: str) -> BindParameter[Any]:
    return bindparam(f"set_{name}", type_=c[name].type)


@cache
def _finish_statement(columns: tuple[str, ...], *, give_back_attempt: bool = False) -> Update:
    """The fenced end of a lease setting ``columns`` (as parameters ``set_<column>``),
    built once per set of columns."""
    fence = and_(
        c.id == bindparam("job_id", type_=c.id.type),
        c.status == JobStatus.doing,
        c.lease_owner == bindparam("job_owner", type_=c.lease_owner.type),
        c.lease_generation == bindparam("job_generation", type_=c.lease_generation.type),
    )
    values: dict[str, Any] = {name: _param(name) for name in columns}
    values["lease_expires_at"] = null()
    if give_back_attempt:
        values["attempts"] = c.attempts - 1
    return update(JOBS).where(fence).values(**values).returning(c.id)


async def _finish(
    session: AsyncSession,
    job: ClaimedJob,
    values: dict[str, Any],
    *,
    give_back_attempt: bool = False,
) -> bool:
    stmt = _finish_statement(tuple(sorted(values)), give_back_attempt=give_back_attempt)
    params = {f"set_{name}": value for name, value in values.items()}
    params.update(job_id=job.id, job_owner=job.lease_owner, job_generation=job.lease_generation)
    return (await session.execute(stmt, params)).first() is not None


async def complete(
    session: AsyncSession, job: ClaimedJob, *, now: dt.datetime, result: Any = None
) -> bool:
    """Mark the job succeeded with ``result``; False if the lease was taken over."""
    values = {"status": JobStatus.succeeded, "finished_at": now, "updated_at": now}
    return await _finish(session, job, {**values, "result": result})


async def fail(session: AsyncSession, job: ClaimedJob, *, now: dt.datetime, error: str) -> bool:
    """Mark the job failed for good; False if the lease was taken over."""
    values = {"status": JobStatus.failed, "finished_at": now, "updated_at": now}
    return await _finish(session, job, {**values, "last_error": truncate(error)})


async def requeue(
    session: AsyncSession,
    job: ClaimedJob,
    *,
    now: dt.datetime,
    run_at: dt.datetime,
    error: str | None,
    count_attempt: bool = True,
) -> bool:
    """Put the job back to ``todo`` at ``run_at`` (a retry, a Defer, a release); False if
    the lease was taken over.

    ``count_attempt=False`` gives the claim's attempt back. If a duplicate was queued
    under the same queueing_lock meanwhile, that one will do the work: this job is
    cancelled instead of breaking the "one queued job per queueing_lock" rule.
    """
    values: dict[str, Any] = {
        "status": JobStatus.todo,
        "run_at": run_at,
        "lease_owner": None,
        "updated_at": now,
    }
    if error is not None:
        values["last_error"] = truncate(error)
    try:
        async with session.begin_nested():
            return await _finish(session, job, values, give_back_attempt=not count_attempt)
    except IntegrityError:
        superseded = f"superseded by a queued job with queueing_lock {job.queueing_lock!r}"
        reason = f"{superseded}; last error: {error}" if error else superseded
        return await _finish(
            session,
            job,
            {
                "status": JobStatus.cancelled,
                "finished_at": now,
                "updated_at": now,
                "last_error": truncate(reason),
            },
        )


@lru_cache(maxsize=64)
def _next_due_statement(kinds: frozenset[str]) -> Select[tuple[dt.datetime | None]]:
    when = case((c.status == JobStatus.todo, c.run_at), else_=c.lease_expires_at)
    return select(func.min(when)).where(
        c.kind.in_(kinds), c.status.in_([JobStatus.todo, JobStatus.doing])
    )


async def next_due(
    session: AsyncSession, kinds: Collection[str], *, now: dt.datetime
) -> dt.datetime | None:
    """When the next of these kinds becomes claimable: a ``run_at`` or a lease expiry."""
    if not kinds:
        return None
    value: dt.datetime | None = await session.scalar(_next_due_statement(frozenset(kinds)))
    return value
