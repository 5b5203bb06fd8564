"""Announced uploads: presigned (straight to the bucket) and resumable (chunk by chunk).

Both start as ``pending`` media and become ``ready`` (or ``failed``) at completion, when
the file is checked like any other upload. Chunks and completion run without holding a
transaction across storage I/O: each database step is a short transaction of its own.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.config import Settings
from zakipost.errors import AppError
from zakipost.kit.clock import utcnow
from zakipost.models import MediaKind, MediaObject, MediaStatus
from zakipost.storage import (
    EXTENSIONS,
    MediaStore,
    PresignedUpload,
    StoredObject,
    StoredObjectNotFound,
    new_key,
    staging_dir,
)
from zakipost.upload import service
from zakipost.upload.errors import (
    InvalidContentRange,
    MediaNotReady,
    PresignUnavailable,
    UploadIncomplete,
    UploadOffsetMismatch,
)
from zakipost.upload.inspect import Kind, declared_kind
from zakipost.upload.intake import Spool, SpooledFile, spool_raw, too_large

Maker = async_sessionmaker[AsyncSession]
# S3 signatures (SigV4) are valid for at most seven days.
MAX_PRESIGN = dt.timedelta(days=7)
# ASCII digits, at most 19 (a byte offset fits a BigInteger): longer numbers are not
# offsets, and int() of thousands of digits raises.
_CONTENT_RANGE = re.compile(r"^bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19}|\*)$")


@dataclass(frozen=True)
class ChunkRange:
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_content_range(header: str | None, size: int) -> ChunkRange:
    """``Content-Range: bytes <first>-<last>/<total>`` of a chunk of a ``size``-byte upload."""
    match = _CONTENT_RANGE.match((header or "").strip())
    if match is None:
        raise InvalidContentRange(details={"content_range": header})
    start, end = int(match[1]), int(match[2])
    if end < start or end >= size or match[3] not in ("*", str(size)):
        raise InvalidContentRange(
            f"The chunk's Content-Range {header!r} does not fit an upload of {size:,} bytes.",
            details={"content_range": header, "size": size},
        )
    return ChunkRange(start, end)


def _pending(
    content_type: str, settings: Settings, account_id: uuid.UUID, **fields: object
) -> MediaObject:
    return MediaObject(
        media_id=service.new_media_id(),
        account_id=account_id,
        kind=MediaKind(declared_kind(content_type) or "video"),
        status=MediaStatus.pending,
        storage_key=new_key(EXTENSIONS[content_type]),
        content_type=content_type,
        expires_at=service.expires_at(settings, utcnow()),
        **fields,
    )


async def presign(
    session: AsyncSession,
    store: MediaStore,
    settings: Settings,
    account_id: uuid.UUID,
    *,
    content_type: str,
    size: int | None,
    filename: str | None,
) -> tuple[MediaObject, PresignedUpload]:
    """A pending media and the URL to PUT its file to (:class:`PresignUnavailable` without
    a bucket)."""
    if size is not None and size > settings.storage.max_upload_bytes:
        raise too_large(settings.storage.max_upload_bytes)
    row = _pending(
        content_type,
        settings,
        account_id,
        declared_size=size,
        filename=service.clean_filename(filename),
    )
    # The URL dies well before the media expires, so nothing can land in the bucket after
    # the expiry task has cleaned up.
    lifetime = min(dt.timedelta(hours=settings.storage.upload_ttl_hours) / 2, MAX_PRESIGN)
    presigned = await store.presigned_put(row.storage_key, content_type, lifetime)
    if presigned is None:
        raise PresignUnavailable()
    session.add(row)
    await session.flush()
    return row, presigned


async def create_resumable(
    session: AsyncSession,
    settings: Settings,
    account_id: uuid.UUID,
    *,
    content_type: str,
    size: int,
    filename: str | None,
) -> MediaObject:
    """A pending media that takes its ``size`` bytes in chunks."""
    if size > settings.storage.max_upload_bytes:
        raise too_large(settings.storage.max_upload_bytes)
    row = _pending(
        content_type,
        settings,
        account_id,
        declared_size=size,
        filename=service.clean_filename(filename),
        parts=[],
    )
    session.add(row)
    await session.flush()
    return row


def _resumable(row: MediaObject) -> tuple[int, list[str]]:
    if row.status is MediaStatus.ready:
        raise MediaNotReady("This upload is complete already.", details={"status": "ready"})
    if row.status is MediaStatus.failed:
        raise service.unusable(row)
    if row.parts is None or row.declared_size is None:
        raise MediaNotReady("This media is not a resumable upload; send it with POST /v1/media.")
    return row.declared_size, list(row.parts)


async def _exactly(chunks: AsyncIterator[bytes], length: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > length:
            raise InvalidContentRange(
                f"The chunk is longer than its Content-Range ({length:,} bytes)."
            )
        yield chunk
    if seen != length:
        raise InvalidContentRange(
            f"The chunk has {seen:,} bytes but its Content-Range announces {length:,}."
        )


async def put_chunk(
    maker: Maker,
    store: MediaStore,
    settings: Settings,
    account_id: uuid.UUID,
    media_id: str,
    content_range: str | None,
    chunks: AsyncIterator[bytes],
) -> MediaObject:
    """Store one chunk; the chunk that completes the file completes the upload."""
    async with maker() as session:
        row = await service.get(session, account_id, media_id)
    size, parts = _resumable(row)
    wanted = parse_content_range(content_range, size)
    if wanted.start != row.received:
        raise _mismatch(row.received, size)
    part_key = new_key("part")
    await store.put_stream(
        part_key, _exactly(chunks, wanted.length), content_type="application/octet-stream"
    )
    async with maker() as session, session.begin():
        # Compare and set: the chunk counts only if nobody moved the upload meanwhile.
        result = await session.execute(
            update(MediaObject)
            .where(
                MediaObject.id == row.id,
                MediaObject.received == wanted.start,
                MediaObject.status == MediaStatus.pending,
            )
            .values(received=wanted.end + 1, parts=[*parts, part_key])
        )
    if not getattr(result, "rowcount", 0):
        await store.delete(part_key)
        async with maker() as session:
            row = await service.get(session, account_id, media_id)
        raise _mismatch(row.received, size)
    if wanted.end + 1 < size:
        async with maker() as session:
            return await service.get(session, account_id, media_id)
    return await complete(maker, store, settings, account_id, media_id)


def _mismatch(received: int, size: int) -> UploadOffsetMismatch:
    return UploadOffsetMismatch(
        f"The upload has {received:,} of {size:,} bytes; send the chunk that starts at "
        f"byte {received:,}.",
        details={"received": received, "size": size},
    )


async def complete(
    maker: Maker,
    store: MediaStore,
    settings: Settings,
    account_id: uuid.UUID,
    media_id: str,
) -> MediaObject:
    """Check what arrived (the presigned object, or the resumable chunks joined) and make
    the media ready, or failed with the reason, which is raised too."""
    async with maker() as session:
        row = await service.get(session, account_id, media_id)
    if row.status is MediaStatus.ready:
        return row
    if row.status is MediaStatus.failed:
        raise service.unusable(row)
    max_bytes = settings.storage.max_upload_bytes
    try:
        if row.parts is not None:
            spooled = await _join_parts(store, settings, row)
        else:
            spooled = await _fetch_presigned(store, settings, row, max_bytes)
    except AppError as error:
        if isinstance(error, (UploadIncomplete, MediaNotReady)):
            raise
        await _fail(maker, store, row, error)
        raise
    try:
        expect: Kind = "video" if row.kind is MediaKind.video else "photo"
        facts = await service.check_spooled(settings, spooled, expect=expect)
        if row.parts is not None:
            key = row.storage_key
            if EXTENSIONS.get(facts.content_type) != key.rsplit(".", 1)[-1]:
                key = new_key(facts.extension)
            stored = await store.put_file(key, spooled.path, content_type=facts.content_type)
        else:
            stored = StoredObject(row.storage_key, spooled.size, spooled.sha256)
    except AppError as error:
        await _fail(maker, store, row, error)
        raise
    finally:
        spooled.path.unlink(missing_ok=True)
    chunks = list(row.parts or [])
    async with maker() as session, session.begin():
        current = await service.get(session, account_id, media_id, lock=True)
        if current.status is MediaStatus.pending:
            service.apply_facts(current, facts, stored)
            current.received = stored.size
            current.parts = None
    await service.remove_objects(store, chunks)
    if stored.key != current.storage_key:
        # Another completion of the same upload won the race; its file is the one kept.
        await store.delete(stored.key)
    return current


async def _join_parts(store: MediaStore, settings: Settings, row: MediaObject) -> SpooledFile:
    size = row.declared_size or 0
    if row.received < size:
        raise service.not_ready(row)
    spool = Spool(staging_dir(settings), size)
    try:
        for key in row.parts or []:
            async for block in store.open_range(key):
                await spool.write(block)
        return await spool.finish(filename=row.filename, declared_type=row.content_type)
    except BaseException:
        spool.discard()
        raise


async def _fetch_presigned(
    store: MediaStore, settings: Settings, row: MediaObject, max_bytes: int
) -> SpooledFile:
    try:
        size = await store.size(row.storage_key)
    except StoredObjectNotFound:
        raise UploadIncomplete(
            "Nothing has arrived at the upload URL yet; PUT the file there, then complete."
        ) from None
    if size > max_bytes:
        raise too_large(max_bytes)
    return await spool_raw(
        store.open_range(row.storage_key),
        staging_dir(settings),
        max_bytes,
        filename=row.filename,
        declared_type=row.content_type,
    )


async def _fail(maker: Maker, store: MediaStore, row: MediaObject, error: AppError) -> None:
    await service.remove_objects(store, service.object_keys(row))
    async with maker() as session, session.begin():
        await session.execute(
            update(MediaObject)
            .where(MediaObject.id == row.id, MediaObject.status == MediaStatus.pending)
            .values(status=MediaStatus.failed, error=service.error_record(error), parts=None)
        )
