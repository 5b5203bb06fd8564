from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import RecordModel
from zakipost.db.types import StrEnumType, UTCDateTime


class JobStatus(enum.StrEnum):
    todo = "todo"  # waiting for run_at and a free worker (also: waiting to be retried)
    doing = "doing"  # claimed: a worker holds the lease (or held it and died; see lease_*)
    succeeded = "succeeded"  # the handler returned; result holds what it returned
    failed = "failed"  # a permanent error, or out of attempts; last_error says why
    cancelled = "cancelled"  # withdrawn before it ran, or superseded by a queued duplicate


class Job(RecordModel):
    """A unit of durable work: claimed under a lease, retried, fenced (see zakipost.worker)."""

    __tablename__ = "jobs"
    __table_args__ = (
        # The claim scans due `todo` rows and expired `doing` rows.
        Index("ix_jobs_status_run_at", "status", "run_at"),
        # At most one queued job per queueing_lock (a second enqueue is a no-op).
        Index(
            "uq_jobs_queueing_lock_todo",
            "queueing_lock",
            unique=True,
            sqlite_where=text("status = 'todo'"),
            postgresql_where=text("status = 'todo'"),
        ),
        # At most one running job per lock: the backstop behind the claim's own check.
        Index(
            "uq_jobs_lock_doing",
            "lock",
            unique=True,
            sqlite_where=text("status = 'doing'"),
            postgresql_where=text("status = 'doing'"),
        ),
    )

    # The task name, "<domain>.<verb>", e.g. "publishing.upload_chunks".
    kind: Mapped[str] = mapped_column(String(200), nullable=False)
    # Keyword arguments of the handler: a JSON object.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    status: Mapped[JobStatus] = mapped_column(
        StrEnumType(JobStatus), default=JobStatus.todo, nullable=False
    )
    # Higher runs first among due jobs.
    priority: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    # Claims that counted: incremented by every claim, given back by a Defer or a release.
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # None: the task's RetryStrategy decides.
    max_attempts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The fencing token: bumped by every claim and never reused, so a holder whose lease
    # was taken over (even by its own worker, after a stall) can tell it lost.
    lease_generation: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Jobs sharing a lock run one at a time, in claim order (e.g. "post:<id>").
    lock: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)
    # Kept after the job leaves `todo`, so periodic scheduling can see past occurrences.
    queueing_lock: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    result: Mapped[Any | None] = mapped_column(JSON, nullable=True)
