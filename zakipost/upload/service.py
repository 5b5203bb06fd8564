"""Uploaded media: accepting a checked file, reading and deleting it, and the contract with
the publish pipeline (:func:`claim_media`, :func:`release_post_media`) and the expiry task.

Media belongs to one account: every lookup is scoped to it, and another account's id is
a 404. Nothing here holds a transaction across storage I/O.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath, PureWindowsPath

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.config import Settings
from zakipost.errors import AppError
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import random_string
from zakipost.models import MediaKind, MediaObject, MediaStatus
from zakipost.storage import MediaStore, StoredObject, new_key, staging_dir
from zakipost.upload.errors import (
    MediaExpired,
    MediaInUse,
    MediaNotFound,
    MediaNotReady,
    MediaUnusable,
)
from zakipost.upload.inspect import Kind, MediaFacts, declared_kind, inspect_file
from zakipost.upload.intake import SpooledFile

MEDIA_ID_PREFIX = "med_"


def new_media_id() -> str:
    """``med_`` + 24 of ``[A-Za-z0-9]``."""
    return MEDIA_ID_PREFIX + random_string(24)


def expires_at(settings: Settings, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(hours=settings.storage.upload_ttl_hours)


def clean_filename(name: str | None) -> str | None:
    """The file's own name without any directory, at most 255 characters."""
    if not name:
        return None
    base = PurePosixPath(PureWindowsPath(name).name).name.strip()
    return base[:255] or None


async def find(
    session: AsyncSession, account_id: uuid.UUID, media_id: str, *, lock: bool = False
) -> MediaObject | None:
    query = select(MediaObject).where(
        MediaObject.media_id == media_id, MediaObject.account_id == account_id
    )
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def get(
    session: AsyncSession, account_id: uuid.UUID, media_id: str, *, lock: bool = False
) -> MediaObject:
    """The account's media, or :class:`MediaNotFound` (also once deleted)."""
    row = await find(session, account_id, media_id, lock=lock)
    if row is None or row.status is MediaStatus.deleted:
        raise MediaNotFound()
    return row


def apply_facts(row: MediaObject, facts: MediaFacts, stored: StoredObject) -> None:
    row.kind = MediaKind(facts.kind)
    row.status = MediaStatus.ready
    row.storage_key = stored.key
    row.content_type = facts.content_type
    row.size = stored.size
    row.sha256 = stored.sha256
    row.width, row.height = facts.width, facts.height
    row.duration_sec = facts.duration_sec
    row.notes = facts.notes or None
    row.error = None


def error_record(error: AppError) -> dict[str, object]:
    return {"code": error.code, "message": error.message, "details": error.details or None}


async def check_spooled(
    settings: Settings, spooled: SpooledFile, *, expect: Kind | None = None
) -> MediaFacts:
    """Run the media checks on a staged file (in a thread); ``expect`` defaults to the kind
    its declared type announces."""
    wanted = expect or declared_kind(spooled.declared_type)
    return await asyncio.to_thread(inspect_file, spooled.path, staging_dir(settings), expect=wanted)


async def accept(
    session: AsyncSession,
    store: MediaStore,
    settings: Settings,
    account_id: uuid.UUID,
    spooled: SpooledFile,
    *,
    now: dt.datetime | None = None,
) -> MediaObject:
    """Check a staged upload, move it into the store and record it as ready media."""
    now = now or utcnow()
    facts = await check_spooled(settings, spooled)
    key = new_key(facts.extension)
    stored = await store.put_file(key, spooled.path, content_type=facts.content_type)
    row = MediaObject(
        media_id=new_media_id(),
        account_id=account_id,
        filename=clean_filename(spooled.filename),
        received=stored.size,
        expires_at=expires_at(settings, now),
    )
    apply_facts(row, facts, stored)
    session.add(row)
    try:
        await session.flush()
    except BaseException:
        await store.delete(key)
        raise
    return row


def object_keys(row: MediaObject) -> list[str]:
    """Every store key the media may occupy: the file and any resumable chunks."""
    return [row.storage_key, *(row.parts or [])]


async def remove_objects(store: MediaStore, keys: Iterable[str]) -> None:
    for key in keys:
        await store.delete(key)


async def delete(
    session: AsyncSession,
    store: MediaStore,
    account_id: uuid.UUID,
    media_id: str,
    *,
    now: dt.datetime | None = None,
) -> MediaObject:
    """Delete unused media now; media a post uses waits for the post to be final."""
    row = await get(session, account_id, media_id, lock=True)
    if row.used_at is not None:
        raise MediaInUse(
            f"This media is used by post {row.used_by or '(a post)'}; "
            "it is deleted once that post is final."
        )
    await remove_objects(store, object_keys(row))
    row.status = MediaStatus.deleted
    row.deleted_at = now or utcnow()
    await session.flush()
    return row


async def claim_media(
    session: AsyncSession,
    account_id: uuid.UUID,
    media_id: str,
    *,
    used_by: str | None = None,
    now: dt.datetime | None = None,
) -> MediaObject:
    """Take the account's ready media for a post (``used_by``: its publish id), in the
    caller's transaction; claimed media no longer expires.

    Raises :class:`MediaNotFound` (404: unknown, another account's, or deleted),
    :class:`MediaNotReady` (409: the upload is not finished), :class:`MediaInUse` (409:
    another post has it; claiming again for the same ``used_by`` returns it),
    :class:`MediaExpired` (422) and :class:`MediaUnusable` (422: it failed the checks).
    """
    now = now or utcnow()
    row = await find(session, account_id, media_id, lock=True)
    if row is None:
        raise MediaNotFound()
    if row.used_at is not None:
        if used_by is not None and row.used_by == used_by and row.status is MediaStatus.ready:
            return row
        raise MediaInUse(
            f"This media is already used by post {row.used_by or '(another post)'}; "
            "each upload can be posted once, so upload the file again to post it again."
        )
    if row.status is MediaStatus.deleted:
        if row.expires_at <= (row.deleted_at or now):
            raise MediaExpired()
        raise MediaNotFound()
    if row.status is MediaStatus.failed:
        raise unusable(row)
    if row.status is MediaStatus.pending:
        raise not_ready(row)
    if row.expires_at <= now:
        raise MediaExpired()
    row.used_at = now
    row.used_by = used_by
    await session.flush()
    return row


async def release_post_media(
    session: AsyncSession,
    store: MediaStore,
    keys: Iterable[str],
    *,
    now: dt.datetime | None = None,
) -> int:
    """Delete a final post's files from the store (uploaded media it claimed, photos it
    prepared) and mark the matching media rows deleted; the number of keys released.

    Safe to call again: deleting a missing key is not an error."""
    unique = list(dict.fromkeys(keys))
    await remove_objects(store, unique)
    if unique:
        await session.execute(
            update(MediaObject)
            .where(
                MediaObject.storage_key.in_(unique),
                MediaObject.status != MediaStatus.deleted,
            )
            .values(status=MediaStatus.deleted, deleted_at=now or utcnow())
        )
    return len(unique)


async def expired_media(
    session: AsyncSession, now: dt.datetime, *, limit: int = 200
) -> Sequence[MediaObject]:
    """Unused media past its expiry, oldest first."""
    query = (
        select(MediaObject)
        .where(
            MediaObject.used_at.is_(None),
            MediaObject.status != MediaStatus.deleted,
            MediaObject.expires_at <= now,
        )
        .order_by(MediaObject.expires_at)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def mark_expired(session: AsyncSession, ids: Sequence[uuid.UUID], now: dt.datetime) -> int:
    """Mark these media deleted, unless a post claimed one meanwhile."""
    if not ids:
        return 0
    result = await session.execute(
        update(MediaObject)
        .where(
            MediaObject.id.in_(ids),
            MediaObject.used_at.is_(None),
            MediaObject.status != MediaStatus.deleted,
        )
        .values(status=MediaStatus.deleted, deleted_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def unusable(row: MediaObject) -> MediaUnusable:
    return MediaUnusable(str((row.error or {}).get("message") or MediaUnusable.__doc__))


def not_ready(row: MediaObject) -> MediaNotReady:
    if row.declared_size is not None and row.parts is not None:
        return MediaNotReady(
            f"The upload has {row.received:,} of {row.declared_size:,} bytes; "
            "send the rest before using it.",
            details={"received": row.received, "size": row.declared_size},
        )
    return MediaNotReady()
