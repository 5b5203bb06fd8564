"""What a worker knows about a job it claimed, and the clock everything is timed by."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zakipost.models.job import Job, JobStatus

__all__ = ["ClaimedJob", "Clock", "Job", "JobStatus"]

# Returns an aware UTC datetime; injected everywhere so tests can move time.
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job as its claim returned it, with the lease that fences its writes.

    ``(id, lease_owner, lease_generation)`` identifies one holding of the job: a
    claim bumps the generation, so a holder whose lease was taken over can tell.
    """

    id: uuid.UUID
    kind: str
    payload: dict[str, Any] = field(hash=False)
    priority: int
    run_at: dt.datetime
    # This claim included: 1 on the first run.
    attempts: int
    max_attempts: int | None
    lock: str | None
    queueing_lock: str | None
    lease_owner: str
    lease_generation: int
    lease_expires_at: dt.datetime
