"""Resumable uploads (chunks with Content-Range) and presigned uploads straight to S3."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import AccountWithKeys
from tests.sandbox.media import make_photo, make_video
from tests.storage.s3server import make_s3_store
from tests.upload.conftest import in_chunks, media_rows, stored_files
from zakipost.storage import MediaStore, S3Store

VIDEO = make_video()


async def start(
    client: httpx.AsyncClient, owner: AccountWithKeys, size: int, content_type: str = "video/mp4"
) -> str:
    response = await client.post(
        "/v1/media/uploads",
        json={"content_type": content_type, "size": size, "filename": "big.mp4"},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["status"], data["received"], data["size"]) == ("pending", 0, None)
    return str(data["media_id"])


async def put_chunk(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    media_id: str,
    data: bytes,
    first: int,
    last: int,
    total: int | str,
) -> httpx.Response:
    return await client.put(
        f"/v1/media/uploads/{media_id}",
        content=in_chunks(data[first : last + 1], 10_000),
        headers={**owner.headers, "Content-Range": f"bytes {first}-{last}/{total}"},
    )


class TestResumable:
    async def test_chunks_resume_and_complete(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_store: MediaStore,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        size = len(VIDEO)
        media_id = await start(client, owner, size)
        third = size // 3
        first = await put_chunk(client, owner, media_id, VIDEO, 0, third - 1, size)
        assert first.status_code == 200, first.text
        assert first.json()["data"]["received"] == third
        # The connection drops; the client asks where it stands and resumes from there.
        status = await client.get(f"/v1/media/uploads/{media_id}", headers=owner.headers)
        assert status.json()["data"]["received"] == third
        skipped = await put_chunk(client, owner, media_id, VIDEO, 2 * third, size - 1, size)
        assert skipped.status_code == 409
        assert skipped.json()["code"] == "upload_offset_mismatch"
        assert skipped.json()["details"]["received"] == third
        second = await put_chunk(client, owner, media_id, VIDEO, third, 2 * third - 1, "*")
        assert second.json()["data"]["status"] == "pending"
        last = await put_chunk(client, owner, media_id, VIDEO, 2 * third, size - 1, size)
        assert last.status_code == 200, last.text
        data = last.json()["data"]
        assert (data["status"], data["kind"], data["size"]) == ("ready", "video", size)
        assert data["sha256"] == hashlib.sha256(VIDEO).hexdigest()
        [row] = await media_rows(sessionmaker)
        assert row.parts is None
        # Only the joined file is left; every chunk object was removed.
        path = media_store.local_path(row.storage_key)
        assert stored_files(media_store) == [path]
        assert path is not None and path.read_bytes() == VIDEO

    async def test_chunk_must_match_its_range(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        media_id = await start(client, owner, 1000)
        response = await client.put(
            f"/v1/media/uploads/{media_id}",
            content=b"x" * 20,
            headers={**owner.headers, "Content-Range": "bytes 0-9/1000"},
        )
        assert (response.status_code, response.json()["code"]) == (400, "invalid_content_range")
        for header in ("bytes 0-9/999", "bytes 5-1/1000", "0-9/1000", "bytes 0-1000/1000"):
            bad = await client.put(
                f"/v1/media/uploads/{media_id}",
                content=b"x" * 10,
                headers={**owner.headers, "Content-Range": header},
            )
            assert bad.status_code == 400, header
        assert stored_files(media_store) == []

    async def test_refused_file_fails_the_upload(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_store: MediaStore,
    ) -> None:
        page = b"<html><body>not a video</body></html>" * 10
        media_id = await start(client, owner, len(page))
        response = await put_chunk(client, owner, media_id, page, 0, len(page) - 1, len(page))
        assert (response.status_code, response.json()["code"]) == (422, "not_media")
        failed = (await client.get(f"/v1/media/{media_id}", headers=owner.headers)).json()["data"]
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "not_media"
        assert stored_files(media_store) == []
        again = await put_chunk(client, owner, media_id, page, 0, 9, len(page))
        assert (again.status_code, again.json()["code"]) == (422, "media_refused")

    async def test_complete_finishes_an_interrupted_join(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_store: MediaStore,
    ) -> None:
        media_id = await start(client, owner, len(VIDEO))
        early = await client.post(f"/v1/media/{media_id}/complete", headers=owner.headers)
        assert (early.status_code, early.json()["code"]) == (409, "media_not_ready")
        assert early.json()["details"] == {"received": 0, "size": len(VIDEO)}
        await put_chunk(client, owner, media_id, VIDEO, 0, len(VIDEO) - 1, len(VIDEO))
        done = await client.post(f"/v1/media/{media_id}/complete", headers=owner.headers)
        assert done.status_code == 200 and done.json()["data"]["status"] == "ready"

    async def test_size_is_checked_at_the_start(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        response = await client.post(
            "/v1/media/uploads",
            json={"content_type": "video/mp4", "size": 5 * 1000**3},
            headers=owner.headers,
        )
        assert (response.status_code, response.json()["code"]) == (413, "upload_too_large")
        wrong = await client.post(
            "/v1/media/uploads",
            json={"content_type": "video/x-msvideo", "size": 10},
            headers=owner.headers,
        )
        assert wrong.status_code == 422

    async def test_another_account_cannot_send_chunks(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        stranger: AccountWithKeys,
        media_store: MediaStore,
    ) -> None:
        media_id = await start(client, owner, 100)
        response = await put_chunk(client, stranger, media_id, b"x" * 100, 0, 99, 100)
        assert response.status_code == 404


class TestPresign:
    async def test_unavailable_with_the_local_store(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        response = await client.post(
            "/v1/media/presign", json={"content_type": "video/mp4"}, headers=owner.headers
        )
        assert response.status_code == 409
        body = response.json()
        assert body["code"] == "presign_unavailable"
        assert "POST /v1/media" in body["message"]

    @pytest.fixture
    def bucket(self, app: FastAPI, s3_endpoint: str) -> S3Store:
        store = make_s3_store(s3_endpoint)
        app.state.media_store = store
        return store

    async def presign(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, content_type: str = "video/mp4"
    ) -> dict[str, Any]:
        response = await client.post(
            "/v1/media/presign",
            json={"content_type": content_type, "size": len(VIDEO), "filename": "a.mp4"},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        assert data["method"] == "PUT"
        assert data["complete_url"] == f"/v1/media/{data['media_id']}/complete"
        return data

    async def test_upload_to_the_bucket_then_complete(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, bucket: S3Store
    ) -> None:
        data = await self.presign(client, owner)
        url_dies = dt.datetime.fromisoformat(data["upload_expires_at"])
        media_expires = dt.datetime.fromisoformat(data["media"]["expires_at"])
        assert url_dies < media_expires - dt.timedelta(hours=11)
        early = await client.post(data["complete_url"], headers=owner.headers)
        assert (early.status_code, early.json()["code"]) == (409, "upload_incomplete")
        async with httpx.AsyncClient() as http:
            sent = await http.put(data["upload_url"], content=VIDEO, headers=data["headers"])
        assert sent.status_code == 200
        done = await client.post(data["complete_url"], headers=owner.headers)
        assert done.status_code == 200, done.text
        media = done.json()["data"]
        assert (media["status"], media["kind"], media["size"]) == ("ready", "video", len(VIDEO))
        assert media["sha256"] == hashlib.sha256(VIDEO).hexdigest()
        again = await client.post(data["complete_url"], headers=owner.headers)
        assert again.json()["data"]["status"] == "ready"

    async def test_refused_file_is_removed_from_the_bucket(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        bucket: S3Store,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        data = await self.presign(client, owner)
        async with httpx.AsyncClient() as http:
            await http.put(data["upload_url"], content=make_photo(), headers=data["headers"])
        done = await client.post(data["complete_url"], headers=owner.headers)
        assert (done.status_code, done.json()["code"]) == (422, "media_kind_mismatch")
        [row] = await media_rows(sessionmaker)
        assert row.status.value == "failed"
        assert not await bucket.exists(row.storage_key)
