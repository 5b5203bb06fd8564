"""Exceptions of the job system.

    WorkerError                  something is wrong with the job system itself
     +-- LeaseLost               this worker no longer holds the job's lease
     +-- UnknownTask             no handler is registered under a job's kind
    JobError                     raised by handlers to steer what happens next
     +-- TransientJobError       retry later with backoff (until max attempts)
     +-- PermanentJobError       fail now; the message becomes the job's last_error
     +-- Defer                   run again at a given time; not a failed attempt

Any other exception a handler raises counts as transient.
"""

from __future__ import annotations

import datetime as dt


class WorkerError(Exception):
    """Base of the job system's own errors."""


class LeaseLost(WorkerError):
    """The lease on a job expired or was taken over; its holder must stop writing.

    Raised by ``JobContext.fenced()``. The runner leaves the job alone afterwards:
    it belongs to whoever holds the lease now.
    """


class UnknownTask(WorkerError, LookupError):
    """No task is registered under this name."""


class JobError(Exception):
    """Base of the exceptions a handler raises on purpose."""


class TransientJobError(JobError):
    """A failure that may pass (a timeout, a 5xx): retry with backoff."""


class PermanentJobError(JobError):
    """A failure no retry can fix: the job fails now with this message."""


class Defer(JobError):
    """Not now: run the job again at ``until`` without counting a failed attempt.

    ``until`` is an aware datetime, or a delay counted from the moment the worker
    handles the exception (e.g. a rate limit's reset time).
    """

    def __init__(self, until: dt.datetime | dt.timedelta, reason: str = "deferred") -> None:
        if isinstance(until, dt.datetime) and until.tzinfo is None:
            raise ValueError("Defer needs an aware datetime")
        super().__init__(reason)
        self.until = until
        self.reason = reason

    def run_at(self, now: dt.datetime) -> dt.datetime:
        """When the job should run again, as seen at ``now``."""
        if isinstance(self.until, dt.timedelta):
            return now + self.until
        return self.until
