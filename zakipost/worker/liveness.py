"""Which workers are alive: each running worker keeps a row in ``worker_processes``.

A worker inserts its row when it starts, moves ``last_seen_at`` every
:data:`BEAT_SECONDS` and deletes the row when it stops cleanly. A worker that was killed
leaves its row behind with a ``last_seen_at`` that stops moving: after
:data:`LIVE_WINDOW` it no longer counts, and rows a day old are deleted by the next worker
that starts. Readers (``/readyz?workers=1``, a queued post's ``waiting_for``, ``zakipost
jobs workers``) ask :func:`live_workers`.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.models.worker_process import WorkerProcess

# A worker not seen for this long is taken for dead.
LIVE_WINDOW = dt.timedelta(minutes=1)
# How often a worker says it is alive: four beats per window, so a slow one still counts.
BEAT_SECONDS = 15.0
# Rows of workers gone this long are deleted (kept until then for operators to read).
FORGET_AFTER = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Presence:
    """What a worker records about itself."""

    worker_id: str
    concurrency: int
    serves: dict[str, Any] = field(default_factory=dict)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)


async def register(session: AsyncSession, presence: Presence, *, now: dt.datetime) -> None:
    """Record ``presence`` as started now (replacing a row of the same id), and forget
    workers gone for a day."""
    await session.execute(delete(WorkerProcess).where(WorkerProcess.id == presence.worker_id))
    await session.execute(
        delete(WorkerProcess).where(WorkerProcess.last_seen_at < now - FORGET_AFTER)
    )
    session.add(
        WorkerProcess(
            id=presence.worker_id,
            host=presence.host[:255],
            pid=presence.pid,
            started_at=now,
            last_seen_at=now,
            concurrency=presence.concurrency,
            serves=presence.serves,
        )
    )


async def beat(session: AsyncSession, presence: Presence, *, now: dt.datetime) -> None:
    """Move ``last_seen_at`` to now; a row someone deleted is recorded again."""
    result = await session.execute(
        update(WorkerProcess)
        .where(WorkerProcess.id == presence.worker_id)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) == 0:
        await register(session, presence, now=now)


async def unregister(session: AsyncSession, worker_id: str) -> None:
    """Delete the worker's row (a clean stop)."""
    await session.execute(delete(WorkerProcess).where(WorkerProcess.id == worker_id))


async def live_workers(
    session: AsyncSession, *, now: dt.datetime, window: dt.timedelta = LIVE_WINDOW
) -> Sequence[WorkerProcess]:
    """The workers seen within ``window`` of ``now``, most recently seen first."""
    rows = await session.scalars(
        select(WorkerProcess)
        .where(WorkerProcess.last_seen_at >= now - window)
        .order_by(WorkerProcess.last_seen_at.desc(), WorkerProcess.id)
    )
    return rows.all()


async def live_count(
    session: AsyncSession, *, now: dt.datetime, window: dt.timedelta = LIVE_WINDOW
) -> int:
    """How many workers were seen within ``window`` of ``now``."""
    count = await session.scalar(
        select(func.count()).where(WorkerProcess.last_seen_at >= now - window)
    )
    return int(count or 0)


async def all_workers(session: AsyncSession) -> Sequence[WorkerProcess]:
    """Every recorded worker, live or not (for operators)."""
    rows = await session.scalars(
        select(WorkerProcess).order_by(WorkerProcess.last_seen_at.desc(), WorkerProcess.id)
    )
    return rows.all()
