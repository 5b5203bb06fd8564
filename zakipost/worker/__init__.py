"""Durable jobs: a queue in the application's own database, run by any number of workers.

Key contracts (see README.md next to this file):

- **Enqueue is an INSERT in the caller's transaction** (:func:`enqueue`): the job commits
  or rolls back with the caller's writes. A ``queueing_lock`` keeps at most one *queued*
  job per key; a duplicate enqueue returns None and leaves the transaction usable.
- **Claims are exclusive**: one statement moves due ``todo`` jobs (and ``doing`` jobs
  whose lease expired) to ``doing`` under a lease of this worker; each is claimed by one
  worker only. Jobs sharing a ``lock`` run one at a time, in order.
- **Leases are fenced**: every claim bumps the job's ``lease_generation``. Handlers write
  only inside ``async with ctx.fenced() as session:``, which commits only while this
  worker still holds a live lease, else raises :class:`LeaseLost`. A worker that stalled
  and lost its job can never overwrite what the new holder wrote.
- **At least once**: a job whose worker dies runs again after its lease expires, so a
  handler records each step (fenced) before taking it and skips steps already done.
- **Retries** follow the task's :class:`RetryStrategy`: ``TransientJobError`` (and any
  unexpected exception) retries with backoff up to ``max_attempts``; ``PermanentJobError``
  fails at once with its message; ``Defer`` re-queues at a time without using an attempt.
- **Time** comes from an injectable clock everywhere (aware UTC datetimes).
"""

from zakipost.models.job import Job, JobStatus
from zakipost.worker.context import JobContext
from zakipost.worker.enqueue import cancel, enqueue, enqueue_sync, move_job
from zakipost.worker.errors import (
    Defer,
    JobError,
    LeaseLost,
    PermanentJobError,
    TransientJobError,
    UnknownTask,
    WorkerError,
)
from zakipost.worker.execute import Outcome
from zakipost.worker.jobs import ClaimedJob, Clock
from zakipost.worker.registry import Task, TaskRegistry
from zakipost.worker.retry import RetryAction, RetryDecision, RetryStrategy
from zakipost.worker.runner import Worker
from zakipost.worker.schedule import Periodic, ensure_scheduled
from zakipost.worker.wakeup import CHANNEL, WakeupSignal

__all__ = [
    "CHANNEL",
    "ClaimedJob",
    "Clock",
    "Defer",
    "Job",
    "JobContext",
    "JobError",
    "JobStatus",
    "LeaseLost",
    "Outcome",
    "Periodic",
    "PermanentJobError",
    "RetryAction",
    "RetryDecision",
    "RetryStrategy",
    "Task",
    "TaskRegistry",
    "TransientJobError",
    "UnknownTask",
    "WakeupSignal",
    "Worker",
    "WorkerError",
    "cancel",
    "enqueue",
    "enqueue_sync",
    "ensure_scheduled",
    "move_job",
]
