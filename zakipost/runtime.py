"""The worker role: the task registry over the pipeline's dependencies, and the worker
itself. The dependencies come from the composition root (``zakipost.composition``)."""

from __future__ import annotations

from zakipost.connection import tasks as connection_tasks
from zakipost.maintenance import tasks as maintenance_tasks
from zakipost.publishing import link as publishing_link
from zakipost.publishing import tasks as publishing_tasks
from zakipost.publishing.deps import PipelineDeps
from zakipost.upload import tasks as upload_tasks
from zakipost.worker import TaskRegistry, Worker


def build_registry(deps: PipelineDeps) -> TaskRegistry:
    registry = TaskRegistry()
    publishing_tasks.register(registry, deps)
    publishing_link.register(registry, deps)
    connection_tasks.register(registry, deps.tokens)
    upload_tasks.register(registry, deps.settings, deps.store)
    maintenance_tasks.register(registry)
    return registry


def build_worker(
    deps: PipelineDeps, *, concurrency: int | None = None, worker_id: str | None = None
) -> Worker:
    settings = deps.settings
    return Worker(
        deps.sessionmaker,
        build_registry(deps),
        concurrency=concurrency or settings.worker.concurrency,
        lease_seconds=settings.worker.lease_seconds,
        poll_interval=settings.worker.poll_interval_seconds,
        worker_id=worker_id,
        clock=deps.clock,
        grace_seconds=settings.worker.grace_seconds,
    )
