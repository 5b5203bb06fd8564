"""``storage.expire_media``: every 10 minutes, unused uploads past their expiry are deleted
from the store and marked deleted."""

from __future__ import annotations

import datetime as dt

from zakipost.config import Settings
from zakipost.logging import get_logger
from zakipost.storage import MediaStore, create_store
from zakipost.upload import service
from zakipost.worker import JobContext, TaskRegistry

log = get_logger(__name__)

EXPIRE_TASK = "storage.expire_media"
EXPIRE_EVERY = dt.timedelta(minutes=10)
BATCH = 200
MAX_BATCHES = 25


async def expire_media(ctx: JobContext, store: MediaStore) -> int:
    """Delete expired unused media, a batch at a time; how many were deleted.

    Files go first, rows after: expired media can no longer be claimed, so a run that dies
    in between only leaves rows the next run finishes (deleting a missing file is fine).
    """
    now = ctx.now()
    deleted = 0
    for _ in range(MAX_BATCHES):
        async with ctx.fenced() as session:
            batch = [
                (row.id, service.object_keys(row))
                for row in await service.expired_media(session, now, limit=BATCH)
            ]
        if not batch:
            break
        for _id, keys in batch:
            await service.remove_objects(store, keys)
        async with ctx.fenced() as session:
            deleted += await service.mark_expired(session, [media_id for media_id, _ in batch], now)
        if len(batch) < BATCH:
            break
    if deleted:
        log.info("media_expired", count=deleted)
    return deleted


def register(registry: TaskRegistry, settings: Settings, store: MediaStore | None = None) -> None:
    """Register the expiry task (and keep it scheduled) against ``settings``' store."""
    media_store = store or create_store(settings)

    @registry.task(EXPIRE_TASK)
    async def expire(ctx: JobContext) -> int:
        return await expire_media(ctx, media_store)

    registry.periodic(EXPIRE_TASK, every=EXPIRE_EVERY)
