"""The MediaStore contract, run on LocalStore and on S3Store against a real S3 API (moto)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from zakipost.storage import (
    InvalidKey,
    LocalStore,
    MediaStore,
    S3Store,
    StoredObjectNotFound,
    check_key,
    content_type_of,
    new_key,
)

DATA = os.urandom(3 * 1024 * 1024 + 123)


async def chunks_of(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read(store: MediaStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([block async for block in store.open_range(key, start, end)])


async def put(store: MediaStore, data: bytes = DATA, ext: str = "mp4") -> str:
    key = new_key(ext)
    await store.put_stream(key, chunks_of(data), content_type="video/mp4")
    return key


class TestKeys:
    def test_new_key_is_unguessable_and_flat(self) -> None:
        keys = {new_key("jpg") for _ in range(100)}
        assert len(keys) == 100
        for key in keys:
            token, ext = key.rsplit(".", 1)
            assert ext == "jpg" and len(token) >= 43 and "/" not in key

    @pytest.mark.parametrize(
        "key", ["../etc/passwd.jpg", "short.jpg", "a" * 40, "a" * 40 + "/b.jpg", "a" * 40 + ".JPG"]
    )
    def test_bad_keys_are_refused(self, key: str) -> None:
        with pytest.raises(InvalidKey):
            check_key(key)

    def test_content_types_come_from_the_extension(self) -> None:
        assert content_type_of("x.jpg") == "image/jpeg"
        assert content_type_of("x.webp") == "image/webp"
        assert content_type_of("x.mp4") == "video/mp4"
        assert content_type_of("x.part") is None


class TestPutStream:
    async def test_round_trip(self, store: MediaStore) -> None:
        key = new_key("mp4")
        stored = await store.put_stream(key, chunks_of(DATA), content_type="video/mp4")
        assert (stored.key, stored.size) == (key, len(DATA))
        assert stored.sha256 == hashlib.sha256(DATA).hexdigest()
        assert await store.size(key) == len(DATA)
        assert await store.exists(key)
        assert await read(store, key) == DATA

    async def test_empty_object(self, store: MediaStore) -> None:
        key = new_key("jpg")
        stored = await store.put_stream(key, chunks_of(b""), content_type="image/jpeg")
        assert stored.size == 0
        assert await store.size(key) == 0
        assert await read(store, key) == b""

    async def test_many_parts(self, store: MediaStore) -> None:
        # Over S3's 5 MiB part minimum twice, so the S3 store goes multipart.
        if isinstance(store, S3Store):
            store.part_size = 5 << 20
        data = os.urandom(11 << 20)
        key = await put(store, data)
        assert await store.size(key) == len(data)
        assert await read(store, key, 5 << 20, (10 << 20) + 1) == data[5 << 20 : (10 << 20) + 2]

    async def test_a_failed_stream_leaves_nothing(self, store: MediaStore) -> None:
        if isinstance(store, S3Store):
            store.part_size = 5 << 20

        async def broken() -> AsyncIterator[bytes]:
            yield os.urandom(6 << 20)  # past one S3 part: a multipart upload is open
            raise ConnectionResetError("client went away")

        key = new_key("mp4")
        with pytest.raises(ConnectionResetError):
            await store.put_stream(key, broken(), content_type="video/mp4")
        assert not await store.exists(key)
        if isinstance(store, LocalStore):
            assert list(store.staging.iterdir()) == []
        else:
            uploads = store.client.list_multipart_uploads(Bucket=store.bucket)
            assert uploads.get("Uploads", []) == []

    async def test_replaces_an_existing_object(self, store: MediaStore) -> None:
        key = await put(store, b"first version")
        await store.put_stream(key, chunks_of(b"second"), content_type="video/mp4")
        assert await read(store, key) == b"second"


class TestPutFile:
    async def test_takes_the_file(self, store: MediaStore, tmp_path: Path) -> None:
        source = tmp_path / "upload.bin"
        source.write_bytes(DATA)
        key = new_key("mp4")
        stored = await store.put_file(key, source, content_type="video/mp4")
        assert stored.sha256 == hashlib.sha256(DATA).hexdigest()
        assert await read(store, key) == DATA
        assert not source.exists()


class TestOpenRange:
    @pytest.mark.parametrize(
        ("start", "end"), [(0, 0), (10, 99), (len(DATA) - 5, None), (1 << 20, (2 << 20) + 7)]
    )
    async def test_ranges(self, store: MediaStore, start: int, end: int | None) -> None:
        key = await put(store)
        expected = DATA[start : None if end is None else end + 1]
        assert await read(store, key, start, end) == expected

    async def test_missing_key(self, store: MediaStore) -> None:
        with pytest.raises(StoredObjectNotFound):
            await read(store, new_key("mp4"))


class TestMissingAndDelete:
    async def test_missing(self, store: MediaStore, tmp_path: Path) -> None:
        key = new_key("mp4")
        assert not await store.exists(key)
        with pytest.raises(StoredObjectNotFound):
            await store.size(key)
        with pytest.raises(StoredObjectNotFound):
            await store.download_to(key, tmp_path / "out")
        assert not (tmp_path / "out").exists()

    async def test_delete_is_idempotent(self, store: MediaStore) -> None:
        key = await put(store, b"bytes")
        await store.delete(key)
        await store.delete(key)
        assert not await store.exists(key)

    async def test_bad_keys_never_reach_storage(self, store: MediaStore) -> None:
        with pytest.raises(InvalidKey):
            await store.size("../../etc/passwd")


class TestDownloadTo:
    async def test_streams_to_a_file(self, store: MediaStore, tmp_path: Path) -> None:
        key = await put(store)
        target = tmp_path / "copy.mp4"
        assert await store.download_to(key, target) == len(DATA)
        assert target.read_bytes() == DATA


class TestUrls:
    async def test_public_url(self, store: MediaStore) -> None:
        key = new_key("jpg")
        url = store.public_url(key)
        assert url.endswith("/" + key)
        if isinstance(store, LocalStore):
            assert url == f"http://testserver/media/{key}"
            assert store.local_path(key) == store.root / key
        else:
            assert store.local_path(key) is None

    async def test_public_url_serves_the_object_from_the_bucket(self, s3_store: S3Store) -> None:
        # What the operator sets up for TikTok: anonymous reads of the bucket's objects.
        public_read = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{s3_store.bucket}/*",
                }
            ],
        }
        s3_store.client.put_bucket_policy(Bucket=s3_store.bucket, Policy=json.dumps(public_read))
        key = await put(s3_store, b"\xff\xd8\xff photo bytes", "jpg")
        async with httpx.AsyncClient() as http:
            response = await http.get(s3_store.public_url(key))
        assert response.status_code == 200
        assert response.content == b"\xff\xd8\xff photo bytes"


class TestPresignedPut:
    async def test_local_store_has_none(self, tmp_path: Path) -> None:
        store = LocalStore(tmp_path, public_base_url="http://x/media")
        assert await store.presigned_put(new_key("mp4"), "video/mp4", dt.timedelta(hours=1)) is None

    async def test_s3_url_accepts_the_upload(self, s3_store: S3Store) -> None:
        key = new_key("mp4")
        presigned = await s3_store.presigned_put(key, "video/mp4", dt.timedelta(hours=1))
        assert presigned is not None
        assert presigned.method == "PUT"
        assert presigned.headers == {"Content-Type": "video/mp4"}
        assert presigned.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=59)
        async with httpx.AsyncClient() as http:
            response = await http.put(presigned.url, content=DATA, headers=presigned.headers)
        assert response.status_code == 200, response.text
        assert await s3_store.size(key) == len(DATA)
        head = s3_store.client.head_object(Bucket=s3_store.bucket, Key=key)
        assert head["ContentType"] == "video/mp4"
