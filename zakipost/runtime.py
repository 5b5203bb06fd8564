"""The worker role: the task registry over the pipeline's dependencies, and the worker
itself. The dependencies come from the composition root (``zakipost.composition``)."""

from __future__ import annotations

from typing import Any

from zakipost import layout
from zakipost.connection import tasks as connection_tasks
from zakipost.maintenance import tasks as maintenance_tasks
from zakipost.publishing import link as publishing_link
from zakipost.publishing import tasks as publishing_tasks
from zakipost.publishing.deps import PipelineDeps
from zakipost.upload import tasks as upload_tasks
from zakipost.webhook import tasks as webhook_tasks
from zakipost.worker import TaskRegistry, Worker


def build_registry(deps: PipelineDeps) -> TaskRegistry:
    registry = TaskRegistry()
    publishing_tasks.register(registry, deps)
    publishing_link.register(registry, deps)
    connection_tasks.register(registry, deps.tokens)
    upload_tasks.register(registry, deps.settings, deps.store)
    maintenance_tasks.register(registry)
    webhook_tasks.register(
        registry,
        deps.settings,
        deps.vault,
        resolver=deps.webhook_resolver,
        rand=deps.webhook_rand,
    )
    return registry


def build_worker(
    deps: PipelineDeps,
    *,
    concurrency: int | None = None,
    worker_id: str | None = None,
    serves: dict[str, Any] | None = None,
) -> Worker:
    """The worker over ``deps``; its presence row says what it serves (``serves``, by
    default what the settings say: database, TikTok, store, concurrency)."""
    settings = deps.settings
    slots = concurrency or settings.worker.concurrency
    return Worker(
        deps.sessionmaker,
        build_registry(deps),
        concurrency=slots,
        lease_seconds=settings.worker.lease_seconds,
        poll_interval=settings.worker.poll_interval_seconds,
        worker_id=worker_id,
        clock=deps.clock,
        grace_seconds=settings.worker.grace_seconds,
        serves=serves if serves is not None else layout.serving(settings, concurrency=slots),
    )
