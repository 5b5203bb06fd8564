"""The default store: files in a directory under the data dir, served by ZakiPost at /media/."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from zakipost.storage.base import (
    BLOCK_SIZE,
    PresignedUpload,
    StoredObject,
    check_key,
)
from zakipost.storage.errors import StoredObjectNotFound


class LocalStore:
    """Objects as files in ``root``; writes go to a temporary file renamed into place.

    ``public_base_url`` is where the web app serves them (``<public url>/media``). Several
    web and worker machines can share one store only through a shared directory.
    """

    def __init__(self, root: Path, *, public_base_url: str) -> None:
        self.root = Path(root)
        self.public_base_url = public_base_url.rstrip("/")
        self.staging = self.root / ".staging"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _temp_file(self) -> tuple[BinaryIO, Path]:
        self.staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.staging, prefix="put-", suffix=".tmp")
        return os.fdopen(fd, "wb"), Path(name)

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str
    ) -> StoredObject:
        """Write ``chunks`` to a temporary file, then rename it to ``key``."""
        dest = self._path(key)
        file, temp = await asyncio.to_thread(self._temp_file)
        digest, size = hashlib.sha256(), 0
        try:
            with file:
                pending = bytearray()
                async for chunk in chunks:
                    pending += chunk
                    if len(pending) >= BLOCK_SIZE:
                        block, pending = bytes(pending), bytearray()
                        await asyncio.to_thread(_write, file, digest, block)
                        size += len(block)
                if pending:
                    await asyncio.to_thread(_write, file, digest, bytes(pending))
                    size += len(pending)
            await asyncio.to_thread(os.replace, temp, dest)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return StoredObject(key, size, digest.hexdigest())

    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        """Move the file into the store (a rename on the same file system, else a copy)."""
        dest = self._path(key)
        digest, size = await asyncio.to_thread(_hash_file, path)
        await asyncio.to_thread(_move, Path(path), dest, self)
        return StoredObject(key, size, digest)

    async def open_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream a byte range of the file in blocks."""
        path = self._path(key)
        try:
            file = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise StoredObjectNotFound() from None
        with file:
            await asyncio.to_thread(file.seek, start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                want = BLOCK_SIZE if left is None else min(BLOCK_SIZE, left)
                block = await asyncio.to_thread(file.read, want)
                if not block:
                    break
                if left is not None:
                    left -= len(block)
                yield block

    async def size(self, key: str) -> int:
        """The file's size."""
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            raise StoredObjectNotFound() from None

    async def exists(self, key: str) -> bool:
        """Whether the file exists."""
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        """Remove the file, if any."""
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        """The file itself (which may not exist)."""
        return self._path(key)

    async def download_to(self, key: str, path: Path) -> int:
        """Copy the file to ``path``."""
        source = self._path(key)
        try:
            await asyncio.to_thread(shutil.copyfile, source, path)
        except FileNotFoundError:
            if not source.exists():
                raise StoredObjectNotFound() from None
            raise
        return (await asyncio.to_thread(Path(path).stat)).st_size

    def public_url(self, key: str) -> str:
        """``<public_base_url>/<key>``, served by ``GET /media/{key}``."""
        return f"{self.public_base_url}/{check_key(key)}"

    async def presigned_put(
        self, key: str, content_type: str, expires: dt.timedelta
    ) -> PresignedUpload | None:
        """Always ``None``: upload through ``POST /v1/media`` instead."""
        return None


def _write(file: BinaryIO, digest: hashlib._Hash, block: bytes) -> None:
    file.write(block)
    digest.update(block)


def _hash_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as file:
        while block := file.read(BLOCK_SIZE):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _move(source: Path, dest: Path, store: LocalStore) -> None:
    store.root.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, dest)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    # Another file system: copy next to the destination, then rename into place.
    store.staging.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=store.staging, prefix="put-", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(source, name)
        os.replace(name, dest)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    source.unlink(missing_ok=True)
