"""The media store interface: what the upload API and the publish pipeline need from storage.

A store holds immutable objects under flat keys. Keys are unguessable (32+ random url-safe
characters and an extension, see :func:`new_key`), because the objects TikTok pulls are
served without authentication; the extension decides the ``Content-Type`` they are served
with. Every method streams: nothing reads a whole object into memory.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from zakipost.storage.errors import InvalidKey

BLOCK_SIZE = 1 << 20
"""Bytes read or written at a time; a store holds a few blocks at most."""

CONTENT_TYPES = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
}
"""Extensions of the keys served publicly, and the ``Content-Type`` each is served with."""

EXTENSIONS = {content_type: ext for ext, content_type in CONTENT_TYPES.items()}

_KEY = re.compile(r"^[A-Za-z0-9_-]{32,160}\.[a-z0-9]{2,5}$")


@dataclass(frozen=True)
class StoredObject:
    """An object as written: its key, its size in bytes and its SHA-256 (hex)."""

    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class PresignedUpload:
    """A URL the caller sends the file to directly, with the method and headers to use."""

    url: str
    expires_at: dt.datetime
    method: str = "PUT"
    headers: dict[str, str] = field(default_factory=dict)


def new_key(extension: str) -> str:
    """A fresh unguessable key: 43 random url-safe characters and ``extension`` (``mp4``)."""
    extension = extension.lstrip(".").lower()
    return check_key(f"{secrets.token_urlsafe(32)}.{extension}")


def check_key(key: str) -> str:
    """``key`` if it is a well-formed store key, else :class:`InvalidKey`.

    Flat keys only (no ``/``), so a key can never name a path outside a local store."""
    if not _KEY.fullmatch(key):
        raise InvalidKey()
    return key


def content_type_of(key: str) -> str | None:
    """The ``Content-Type`` a public key is served with, ``None`` for non-public keys."""
    return CONTENT_TYPES.get(key.rsplit(".", 1)[-1])


@runtime_checkable
class MediaStore(Protocol):
    """An object store for media: the local data directory or an S3-compatible bucket.

    Missing keys raise :class:`StoredObjectNotFound` from every reading method.
    """

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str
    ) -> StoredObject:
        """Write ``chunks`` under ``key`` (replacing any object there), in constant memory.

        The object appears whole or not at all: a failure midway leaves nothing behind."""
        ...

    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        """Store the local file at ``path`` under ``key``; the file is moved or consumed."""
        ...

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream bytes ``start`` to ``end`` inclusive (``None``: to the last byte)."""
        ...

    async def size(self, key: str) -> int:
        """The object's size in bytes."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; removing a missing key is not an error."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The object's file when the store is a local directory, else ``None``."""
        ...

    async def download_to(self, key: str, path: Path) -> int:
        """Copy the object into the file ``path`` (streamed); the number of bytes written."""
        ...

    def public_url(self, key: str) -> str:
        """Where anyone (TikTok's PULL_FROM_URL) can read the object without credentials."""
        ...

    async def presigned_put(
        self, key: str, content_type: str, expires: dt.timedelta
    ) -> PresignedUpload | None:
        """A URL to PUT the object to directly, or ``None`` when the store cannot offer one."""
        ...
