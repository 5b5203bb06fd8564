"""Request bodies to files, in blocks: a raw body or one part of a multipart body.

Nothing is held whole in memory: bytes are gathered up to :data:`BLOCK_SIZE`, hashed and
written to a staging file in a worker thread. The byte cap is enforced while streaming, and
a refused or broken upload leaves no file behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from zakipost.storage import BLOCK_SIZE
from zakipost.upload.errors import (
    HOW_TO_SEND,
    FileFieldMissing,
    MalformedMultipart,
    UnsupportedUploadType,
    UploadTooLarge,
)

FILE_FIELD = "file"
# Room for a multipart body's boundaries, part headers and small text fields.
MULTIPART_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class SpooledFile:
    """An upload on local disk: where, its size and SHA-256, and what the sender said."""

    path: Path
    size: int
    sha256: str
    filename: str | None = None
    declared_type: str | None = None


def too_large(max_bytes: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"The file is larger than {max_bytes:,} bytes, the most ZakiPost accepts.",
        details={"max_bytes": max_bytes},
    )


class Spool:
    """A staging file written in blocks; :meth:`finish` hands it over, :meth:`discard` drops it."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.size = 0
        self._digest = hashlib.sha256()
        self._pending = bytearray()
        self._file: BinaryIO | None = None
        self.path: Path | None = None

    def _open(self) -> BinaryIO:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.directory, prefix="upload-", suffix=".part")
        self.path = Path(name)
        return os.fdopen(fd, "wb")

    async def write(self, data: bytes) -> None:
        """Add ``data``; :class:`UploadTooLarge` as soon as the cap is passed."""
        self.size += len(data)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        self._pending += data
        if len(self._pending) >= BLOCK_SIZE:
            await self._flush()

    async def _flush(self) -> None:
        if self._file is None:
            self._file = await asyncio.to_thread(self._open)
        block, self._pending = bytes(self._pending), bytearray()
        await asyncio.to_thread(_write, self._file, self._digest, block)

    async def finish(
        self, *, filename: str | None = None, declared_type: str | None = None
    ) -> SpooledFile:
        """Close the file and describe it (an empty body makes an empty file)."""
        await self._flush()
        assert self._file is not None and self.path is not None
        await asyncio.to_thread(self._file.close)
        return SpooledFile(self.path, self.size, self._digest.hexdigest(), filename, declared_type)

    def discard(self) -> None:
        """Close and remove the file, whatever state it is in."""
        if self._file is not None:
            self._file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _write(file: BinaryIO, digest: hashlib._Hash, block: bytes) -> None:
    file.write(block)
    digest.update(block)


async def spool_raw(
    chunks: AsyncIterator[bytes],
    directory: Path,
    max_bytes: int,
    *,
    filename: str | None,
    declared_type: str | None,
) -> SpooledFile:
    """The whole body, as sent, to a staging file."""
    spool = Spool(directory, max_bytes)
    try:
        async for chunk in chunks:
            await spool.write(chunk)
        return await spool.finish(filename=filename, declared_type=declared_type)
    except BaseException:
        spool.discard()
        raise


class _FilePart:
    """Multipart parser callbacks that keep the `file` field's bytes and its part headers."""

    def __init__(self, field: str = FILE_FIELD) -> None:
        self.field = field.encode()
        self.headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self.in_file = False
        self.seen_file = False
        self.filename: str | None = None
        self.content_type: str | None = None
        self.data: list[bytes] = []
        self.ended = False

    def on_part_begin(self) -> None:
        self.headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.in_file = options.get(b"name") == self.field and not self.seen_file
        if self.in_file:
            self.seen_file = True
            raw_name = options.get(b"filename")
            self.filename = raw_name.decode("utf-8", "replace") if raw_name else None
            declared = self.headers.get(b"content-type", b"").decode("latin-1")
            self.content_type = declared.split(";")[0].strip().lower() or None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.data.append(data[start:end])

    def on_part_end(self) -> None:
        self.in_file = False

    def on_end(self) -> None:
        self.ended = True


async def spool_multipart(
    chunks: AsyncIterator[bytes],
    boundary: bytes,
    directory: Path,
    max_bytes: int,
    *,
    field: str = FILE_FIELD,
) -> SpooledFile:
    """The ``field`` field (`file`) of a multipart/form-data body to a staging file; other
    fields are read past and dropped."""
    part = _FilePart(field)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": part.on_part_begin,
            "on_header_field": part.on_header_field,
            "on_header_value": part.on_header_value,
            "on_header_end": part.on_header_end,
            "on_headers_finished": part.on_headers_finished,
            "on_part_data": part.on_part_data,
            "on_part_end": part.on_part_end,
            "on_end": part.on_end,
        },
    )
    spool = Spool(directory, max_bytes)
    body_size = 0
    try:
        async for chunk in chunks:
            body_size += len(chunk)
            if body_size > max_bytes + MULTIPART_OVERHEAD:
                raise too_large(max_bytes)
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise MalformedMultipart(f"The multipart body is malformed ({exc}).") from None
            # The parser hands over slices of this one chunk: memory stays at a chunk.
            for data in part.data:
                await spool.write(data)
            part.data.clear()
        try:
            parser.finalize()
        except MultipartParseError as exc:
            raise MalformedMultipart(f"The multipart body is malformed ({exc}).") from None
        if not part.seen_file:
            raise FileFieldMissing()
        if not part.ended:
            raise MalformedMultipart(
                "The multipart body ended before its closing boundary: the upload was cut short."
            )
        return await spool.finish(filename=part.filename, declared_type=part.content_type)
    except BaseException:
        spool.discard()
        raise


def _raw_type_allowed(media_type: str) -> bool:
    return media_type.startswith(("video/", "image/")) or media_type == "application/octet-stream"


async def receive(
    headers: Mapping[str, str],
    chunks: AsyncIterator[bytes],
    directory: Path,
    max_bytes: int,
    *,
    filename: str | None = None,
    field: str = FILE_FIELD,
) -> SpooledFile:
    """A request body to a staging file: the ``field`` field (`file`) of a
    multipart/form-data body, or a raw body sent with the file's media type (``?filename=``
    names it)."""
    raw_type, options = parse_options_header(headers.get("content-type", ""))
    media_type = raw_type.decode("latin-1").strip().lower()
    multipart = media_type == "multipart/form-data"
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes + (MULTIPART_OVERHEAD if multipart else 0):
        raise too_large(max_bytes)
    if multipart:
        boundary = options.get(b"boundary")
        if not boundary:
            raise MalformedMultipart("The multipart/form-data Content-Type has no boundary.")
        return await spool_multipart(chunks, boundary, directory, max_bytes, field=field)
    if not _raw_type_allowed(media_type):
        raise UnsupportedUploadType(
            f"The body was sent as {media_type or 'no Content-Type'}. {HOW_TO_SEND}",
            details={"content_type": media_type or None},
        )
    declared = None if media_type == "application/octet-stream" else media_type
    return await spool_raw(chunks, directory, max_bytes, filename=filename, declared_type=declared)
