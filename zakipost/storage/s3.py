"""An S3-compatible bucket (AWS S3, MinIO, R2, moto...), through boto3 in worker threads.

boto3 is optional: ``pip install boto3`` to use this store. Streams are written with a
multipart upload (one part buffered at a time), so memory stays at one part whatever the
size; reads stream the object's body in blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from zakipost.kit.clock import utcnow
from zakipost.storage.base import (
    BLOCK_SIZE,
    PresignedUpload,
    StoredObject,
    check_key,
)
from zakipost.storage.errors import StoredObjectNotFound

PART_SIZE = 8 << 20
"""Bytes per multipart part (S3's minimum is 5 MiB for every part but the last)."""

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3Store:
    """Objects in ``bucket``; ``public_base_url`` is where TikTok reads them.

    ``client`` is a boto3 S3 client; :meth:`from_settings` builds one. The bucket (or a CDN
    in front of it, named by ``public_base_url``) must allow anonymous GET for TikTok to
    pull photos; the operator verifies that URL prefix with TikTok.
    """

    def __init__(
        self, client: Any, bucket: str, *, public_base_url: str, part_size: int = PART_SIZE
    ) -> None:
        if part_size < 5 << 20:
            raise ValueError("part_size must be at least 5 MiB (S3's minimum)")
        self.client = client
        self.bucket = bucket
        self.public_base_url = public_base_url.rstrip("/")
        self.part_size = part_size

    @classmethod
    def from_settings(
        cls,
        *,
        bucket: str,
        endpoint_url: str | None,
        region: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
        public_base_url: str,
    ) -> S3Store:
        """A store with its own boto3 client (``ImportError`` naming boto3 if missing)."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "The S3 media store needs boto3: pip install boto3 "
                "(or set ZAKIPOST_STORAGE_BACKEND=local)."
            ) from exc
        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(signature_version="s3v4", retries={"mode": "standard"}),
        )
        return cls(client, bucket, public_base_url=public_base_url)

    async def _call(self, method: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.client, method), Bucket=self.bucket, **kwargs)

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str
    ) -> StoredObject:
        """One ``PutObject`` for a small stream, else a multipart upload, aborted on failure."""
        check_key(key)
        digest, size = hashlib.sha256(), 0
        pending = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                pending += chunk
                digest.update(chunk)
                size += len(chunk)
                if len(pending) >= self.part_size:
                    if upload_id is None:
                        created = await self._call(
                            "create_multipart_upload", Key=key, ContentType=content_type
                        )
                        upload_id = created["UploadId"]
                    part, pending = bytes(pending), bytearray()
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, part))
            if upload_id is None:
                await self._call(
                    "put_object", Key=key, Body=bytes(pending), ContentType=content_type
                )
            else:
                if pending:
                    part = bytes(pending)
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, part))
                await self._call(
                    "complete_multipart_upload",
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            if upload_id is not None:
                await asyncio.shield(self._abort(key, upload_id))
            raise
        return StoredObject(key, size, digest.hexdigest())

    async def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> Any:
        answer = await self._call(
            "upload_part", Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def _abort(self, key: str, upload_id: str) -> None:
        # The original error matters more; a bucket lifecycle rule cleans up what is left.
        with contextlib.suppress(Exception):
            await self._call("abort_multipart_upload", Key=key, UploadId=upload_id)

    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        """Upload the file in parts, then remove the local file."""
        stored = await self.put_stream(key, _read_file(Path(path)), content_type=content_type)
        await asyncio.to_thread(Path(path).unlink, missing_ok=True)
        return stored

    async def open_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """``GetObject`` with a ``Range``, its body read in blocks."""
        check_key(key)
        # An empty object has no byte 0, so a whole read asks for no range at all.
        last = "" if end is None else str(end)
        ranged = {} if start == 0 and end is None else {"Range": f"bytes={start}-{last}"}
        try:
            answer = await self._call("get_object", Key=key, **ranged)
        except Exception as exc:
            _raise_missing(exc)
            raise
        body = answer["Body"]
        try:
            while block := await asyncio.to_thread(body.read, BLOCK_SIZE):
                yield block
        finally:
            await asyncio.to_thread(body.close)

    async def size(self, key: str) -> int:
        """``HeadObject``'s ``ContentLength``."""
        check_key(key)
        try:
            answer = await self._call("head_object", Key=key)
        except Exception as exc:
            _raise_missing(exc)
            raise
        return int(answer["ContentLength"])

    async def exists(self, key: str) -> bool:
        """Whether ``HeadObject`` finds the key."""
        try:
            await self.size(key)
        except StoredObjectNotFound:
            return False
        return True

    async def delete(self, key: str) -> None:
        """``DeleteObject`` (S3 answers success for a missing key too)."""
        await self._call("delete_object", Key=check_key(key))

    def local_path(self, key: str) -> Path | None:
        """Always ``None``: use :meth:`download_to`."""
        return None

    async def download_to(self, key: str, path: Path) -> int:
        """Stream the object into ``path``; nothing is left there on failure."""
        size = 0
        file = await asyncio.to_thread(open, path, "wb")
        try:
            with file:
                async for block in self.open_range(key):
                    await asyncio.to_thread(file.write, block)
                    size += len(block)
        except BaseException:
            await asyncio.to_thread(Path(path).unlink, missing_ok=True)
            raise
        return size

    def public_url(self, key: str) -> str:
        """``<public_base_url>/<key>``: the bucket's URL, or a CDN's in front of it."""
        return f"{self.public_base_url}/{check_key(key)}"

    async def presigned_put(
        self, key: str, content_type: str, expires: dt.timedelta
    ) -> PresignedUpload | None:
        """A signed ``PutObject`` URL; the caller must send the same ``Content-Type``."""
        seconds = int(expires.total_seconds())
        url = await asyncio.to_thread(
            self.client.generate_presigned_url,
            "put_object",
            Params={"Bucket": self.bucket, "Key": check_key(key), "ContentType": content_type},
            ExpiresIn=seconds,
            HttpMethod="PUT",
        )
        return PresignedUpload(
            url=url,
            expires_at=utcnow() + dt.timedelta(seconds=seconds),
            headers={"Content-Type": content_type},
        )


def _raise_missing(exc: Exception) -> None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise StoredObjectNotFound() from None


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    file = await asyncio.to_thread(open, path, "rb")
    with file:
        while block := await asyncio.to_thread(file.read, BLOCK_SIZE):
            yield block
