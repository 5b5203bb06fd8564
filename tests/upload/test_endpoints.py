"""POST /v1/media (multipart and raw), GET and DELETE, refusals, and tenant isolation."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.fixtures.app import AccountWithKeys, make_settings
from tests.sandbox.media import make_photo, make_video
from tests.upload.conftest import in_chunks, media_rows, multipart, stored_files, upload
from zakipost.storage import LocalStore, MediaStore

VIDEO = make_video()


class TestUploadVideo:
    async def test_multipart(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_store: MediaStore,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        body, headers = multipart(VIDEO)
        response = await client.post(
            "/v1/media", content=body, headers={**owner.headers, **headers}
        )
        assert response.status_code == 200, response.text
        payload = response.json()
        assert payload["success"] is True
        assert "media_id" in payload["message"]
        data = payload["data"]
        assert re.fullmatch(r"med_[A-Za-z0-9]{24}", data["media_id"])
        assert data["kind"] == "video" and data["status"] == "ready"
        assert data["content_type"] == "video/mp4"
        assert data["filename"] == "clip.mp4"
        assert data["size"] == len(VIDEO)
        assert data["sha256"] == hashlib.sha256(VIDEO).hexdigest()
        assert (data["width"], data["height"]) == (360, 640)
        assert data["duration_sec"] == pytest.approx(3.0, abs=0.1)
        assert data["expires_at"] is not None
        [row] = await media_rows(sessionmaker)
        assert row.account_id == owner.account.id
        assert isinstance(media_store, LocalStore)
        path = media_store.local_path(row.storage_key)
        assert path is not None and path.read_bytes() == VIDEO
        # The staging file became the stored object: nothing else is left.
        assert stored_files(media_store) == [path]

    async def test_raw_body_streamed(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        response = await client.post(
            "/v1/media",
            content=in_chunks(VIDEO, 4096),
            params={"filename": "../../evil/name.mp4"},
            headers={**owner.headers, "Content-Type": "video/mp4"},
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["kind"], data["size"], data["filename"]) == ("video", len(VIDEO), "name.mp4")

    async def test_no_database_connection_is_held_while_streaming(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_store: MediaStore,
        engine: AsyncEngine,
    ) -> None:
        held: list[int] = []

        async def body() -> AsyncIterator[bytes]:
            async for chunk in in_chunks(VIDEO, 8192):
                yield chunk
                # The app asks for the next chunk: authentication is long done.
                held.append(engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]

        response = await client.post(
            "/v1/media", content=body(), headers={**owner.headers, "Content-Type": "video/mp4"}
        )
        assert response.status_code == 200, response.text
        assert held and max(held[:-1]) == 0

    async def test_webm_is_recognised(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        webm = make_video(codec="libvpx-vp9", container="webm")
        response = await upload(client, owner, webm, "application/octet-stream")
        assert response.status_code == 200, response.text
        assert response.json()["data"]["content_type"] == "video/webm"


class TestUploadPhoto:
    async def test_png_raw(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        png = make_photo(1200, 1600, "PNG")
        response = await upload(client, owner, png, "image/png")
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["kind"], data["content_type"]) == ("photo", "image/png")
        assert (data["width"], data["height"]) == (1200, 1600)
        assert data["duration_sec"] is None
        assert "converted PNG to JPEG" in data["notes"][0]

    async def test_jpeg_multipart(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        body, headers = multipart(make_photo(), "photo.jpg", "image/jpeg")
        response = await client.post(
            "/v1/media", content=body, headers={**owner.headers, **headers}
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["kind"], data["content_type"], data["notes"]) == ("photo", "image/jpeg", [])
        assert (data["width"], data["height"]) == (1080, 1920)


class TestRefusals:
    async def test_a_web_page_is_not_media(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        page = b"<!DOCTYPE html><html><body>Download on Drive</body></html>"
        response = await upload(client, owner, page, "application/octet-stream")
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "not_media"
        assert "web page" in body["message"] and "not a video or a photo" in body["message"]
        assert stored_files(media_store) == []

    async def test_empty_file(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        response = await upload(client, owner, b"", "video/mp4")
        assert (response.status_code, response.json()["code"]) == (422, "not_media")
        assert "empty" in response.json()["message"]

    async def test_too_short_video_gets_tiktoks_reason(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        response = await upload(client, owner, make_video(seconds=2))
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "video_rejected"
        assert body["details"]["fail_reason"] == "duration_check_failed"
        assert "at least 3 s" in body["message"]
        assert stored_files(media_store) == []

    async def test_too_small_picture(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        response = await upload(client, owner, make_video(width=320))
        assert response.status_code == 422
        assert response.json()["details"]["fail_reason"] == "picture_size_check_failed"

    async def test_gif_photo(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        response = await upload(client, owner, make_photo(400, 400, "GIF"), "image/gif")
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "photo_rejected"
        assert "GIF" in body["message"]

    async def test_wrong_content_type(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        response = await upload(client, owner, b'{"video": "x"}', "application/json")
        assert response.status_code == 415
        body = response.json()
        assert body["code"] == "unsupported_media_type"
        assert "application/json" in body["message"] and "multipart/form-data" in body["message"]
        assert "\n" not in body["message"]

    async def test_declared_kind_must_match(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        response = await upload(client, owner, VIDEO, "image/jpeg")
        assert response.status_code == 422
        assert response.json()["code"] == "media_kind_mismatch"

    async def test_multipart_without_file_field(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        body, headers = multipart(VIDEO, field="video")
        response = await client.post(
            "/v1/media", content=body, headers={**owner.headers, **headers}
        )
        assert (response.status_code, response.json()["code"]) == (422, "upload_file_missing")
        assert stored_files(media_store) == []

    async def test_cut_short_multipart(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        body, headers = multipart(VIDEO)
        response = await client.post(
            "/v1/media", content=body[:-100], headers={**owner.headers, **headers}
        )
        assert (response.status_code, response.json()["code"]) == (400, "malformed_multipart")
        assert "cut short" in response.json()["message"]
        no_boundary = await client.post(
            "/v1/media",
            content=body,
            headers={**owner.headers, "Content-Type": "multipart/form-data"},
        )
        assert (no_boundary.status_code, no_boundary.json()["code"]) == (
            400,
            "malformed_multipart",
        )
        assert stored_files(media_store) == []

    async def test_no_credentials(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/media", content=VIDEO, headers={"Content-Type": "video/mp4"}
        )
        assert response.status_code == 401


class TestSizeCap:
    @pytest.fixture
    def settings(self, tmp_path):  # type: ignore[no-untyped-def]
        return make_settings(tmp_path, storage={"max_upload_bytes": 50_000})

    async def test_announced_too_large(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, media_store: MediaStore
    ) -> None:
        response = await upload(client, owner, VIDEO)
        assert response.status_code == 413
        body = response.json()
        assert (body["success"], body["code"]) == (False, "upload_too_large")
        assert "50,000 bytes" in body["message"]
        assert stored_files(media_store) == []

    @pytest.mark.parametrize("form", ["raw", "multipart"])
    async def test_streamed_too_large(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_store: MediaStore,
        sessionmaker: async_sessionmaker[AsyncSession],
        form: str,
    ) -> None:
        # No Content-Length: the cap is enforced while the body streams.
        if form == "raw":
            content, headers = VIDEO, {"Content-Type": "video/mp4"}
        else:
            content, headers = multipart(VIDEO)
        response = await client.post(
            "/v1/media", content=in_chunks(content, 8192), headers={**owner.headers, **headers}
        )
        assert (response.status_code, response.json()["code"]) == (413, "upload_too_large")
        assert stored_files(media_store) == []
        assert await media_rows(sessionmaker) == []


class TestGetAndDelete:
    async def test_get_delete_and_isolation(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        stranger: AccountWithKeys,
        media_store: MediaStore,
    ) -> None:
        media_id = (await upload(client, owner, VIDEO)).json()["data"]["media_id"]
        mine = await client.get(f"/v1/media/{media_id}", headers=owner.headers)
        assert mine.status_code == 200 and mine.json()["data"]["media_id"] == media_id
        for method in ("GET", "DELETE"):
            theirs = await client.request(method, f"/v1/media/{media_id}", headers=stranger.headers)
            assert theirs.status_code == 404
            assert theirs.json()["code"] == "media_not_found"
        deleted = await client.delete(f"/v1/media/{media_id}", headers=owner.headers)
        assert deleted.status_code == 200 and deleted.json()["data"]["status"] == "deleted"
        assert stored_files(media_store) == []
        again = await client.get(f"/v1/media/{media_id}", headers=owner.headers)
        assert again.status_code == 404
        unknown = await client.get("/v1/media/med_000000000000000000000000", headers=owner.headers)
        assert unknown.status_code == 404


class TestOpenApi:
    async def test_every_endpoint_is_documented(self, client: httpx.AsyncClient) -> None:
        schema = (await client.get("/openapi.json")).json()
        paths = schema["paths"]
        upload_op = paths["/v1/media"]["post"]
        content = upload_op["requestBody"]["content"]
        assert {"multipart/form-data", "video/mp4", "image/png"} <= set(content)
        assert {"200", "413", "415", "422", "401"} <= set(upload_op["responses"])
        for path, method in [
            ("/v1/media/presign", "post"),
            ("/v1/media/uploads", "post"),
            ("/v1/media/uploads/{media_id}", "put"),
            ("/v1/media/uploads/{media_id}", "get"),
            ("/v1/media/{media_id}/complete", "post"),
            ("/v1/media/{media_id}", "get"),
            ("/v1/media/{media_id}", "delete"),
        ]:
            assert "404" in paths[path][method]["responses"] or method == "post", path
        media_out = schema["components"]["schemas"]["MediaOut"]
        assert media_out["examples"][0]["media_id"].startswith("med_")
        for name, field in media_out["properties"].items():
            assert "description" in field or "examples" in field or name == "created_at", name
