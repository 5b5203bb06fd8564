"""Wiring of the worker role: the task registry over the pipeline's dependencies, and the
worker itself, for ``zakipost worker``, ``zakipost serve`` and the tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.config import Settings
from zakipost.connection import tasks as connection_tasks
from zakipost.connection.tokens import TokenVault
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import Vault
from zakipost.maintenance import tasks as maintenance_tasks
from zakipost.publishing import tasks as publishing_tasks
from zakipost.publishing.deps import PipelineDeps
from zakipost.storage.base import MediaStore
from zakipost.storage.factory import create_store
from zakipost.tiktok import TikTokClient
from zakipost.upload import tasks as upload_tasks
from zakipost.worker import TaskRegistry, Worker


def build_registry(deps: PipelineDeps) -> TaskRegistry:
    registry = TaskRegistry()
    publishing_tasks.register(registry, deps)
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


def pipeline_deps(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    vault: Vault,
    tiktok: TikTokClient,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    media_transport: httpx.AsyncBaseTransport | None = None,
    store: MediaStore | None = None,
) -> PipelineDeps:
    return PipelineDeps(
        settings=settings,
        sessionmaker=sessionmaker,
        vault=vault,
        tiktok=tiktok,
        tokens=TokenVault(sessionmaker, vault, tiktok, clock=clock),
        media_dir=settings.media_dir,
        store=store or create_store(settings),
        clock=clock,
        media_transport=media_transport,
    )


async def run_worker_process(settings: Settings, concurrency: int) -> None:
    """``zakipost worker``: a standalone worker against the configured database and TikTok."""
    from zakipost.db.engine import create_engine, create_sessionmaker
    from zakipost.main import create_vault

    engine = create_engine(settings.database_url, pool_size=max(concurrency + 2, 5))
    try:
        async with httpx.AsyncClient(timeout=settings.tiktok.request_timeout_seconds) as http:
            from zakipost.main import make_tiktok_client, tiktok_credentials

            tiktok = make_tiktok_client(settings, http, tiktok_credentials(settings, None))
            deps = pipeline_deps(
                settings, create_sessionmaker(engine), create_vault(settings), tiktok
            )
            await build_worker(deps, concurrency=concurrency).run_forever()
    finally:
        await engine.dispose()
