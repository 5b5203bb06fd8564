"""GET/HEAD /media/{key}: public, streamed, exact headers, byte ranges, 404 and 416."""

from __future__ import annotations

import os

import httpx
import pytest
from fastapi import FastAPI

from tests.storage.s3server import make_s3_store
from tests.storage.test_store import chunks_of
from zakipost.storage import LocalStore, MediaStore, new_key
from zakipost.storage.dependencies import get_store

DATA = os.urandom(2 * 1024 * 1024 + 17)

# The public route never touches the database: one dialect is enough.
pytestmark = pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)


@pytest.fixture
def media_store(app: FastAPI) -> MediaStore:
    return get_store_for(app)


def get_store_for(app: FastAPI) -> MediaStore:
    class _Request:
        def __init__(self, application: FastAPI) -> None:
            self.app = application

    return get_store(_Request(app))  # type: ignore[arg-type]


async def stored(store: MediaStore, data: bytes = DATA, ext: str = "jpg") -> str:
    key = new_key(ext)
    await store.put_stream(key, chunks_of(data), content_type="image/jpeg")
    return key


class TestGet:
    async def test_whole_file_with_headers(
        self, client: httpx.AsyncClient, media_store: MediaStore
    ) -> None:
        assert isinstance(media_store, LocalStore)
        key = await stored(media_store)
        response = await client.get(f"/media/{key}")
        assert response.status_code == 200
        assert response.content == DATA
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["content-length"] == str(len(DATA))
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["cache-control"] == "private, max-age=3600"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert media_store.public_url(key) == f"http://127.0.0.1:8000/media/{key}"

    async def test_no_authentication_needed(
        self, client: httpx.AsyncClient, media_store: MediaStore
    ) -> None:
        key = await stored(media_store, b"\xff\xd8\xffdata")
        response = await client.get(f"/media/{key}", headers={"Authorization": ""})
        assert response.status_code == 200

    @pytest.mark.parametrize(
        ("ext", "content_type"),
        [("mp4", "video/mp4"), ("webp", "image/webp"), ("png", "image/png")],
    )
    async def test_content_type_follows_the_key(
        self, client: httpx.AsyncClient, media_store: MediaStore, ext: str, content_type: str
    ) -> None:
        key = await stored(media_store, b"x" * 10, ext)
        response = await client.get(f"/media/{key}")
        assert response.headers["content-type"] == content_type

    async def test_unknown_and_deleted_keys_are_404(
        self, client: httpx.AsyncClient, media_store: MediaStore
    ) -> None:
        key = await stored(media_store)
        await media_store.delete(key)
        for path in (f"/media/{key}", f"/media/{new_key('mp4')}", "/media/short.jpg"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.json()["code"] == "media_not_found"
            assert response.json()["success"] is False

    async def test_non_public_keys_are_404(
        self, client: httpx.AsyncClient, media_store: MediaStore
    ) -> None:
        # Resumable-upload chunks live in the store too, but are never served.
        key = await stored(media_store, b"chunk", "part")
        assert (await client.get(f"/media/{key}")).status_code == 404

    async def test_path_traversal_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/media/..%2F..%2Fzakipost.db")
        assert response.status_code == 404


class TestRange:
    async def test_partial_content(
        self, client: httpx.AsyncClient, media_store: MediaStore
    ) -> None:
        key = await stored(media_store)
        response = await client.get(f"/media/{key}", headers={"Range": "bytes=100-1048675"})
        assert response.status_code == 206
        assert response.content == DATA[100:1048676]
        assert response.headers["content-length"] == str(1048576)
        assert response.headers["content-range"] == f"bytes 100-1048675/{len(DATA)}"

    async def test_suffix_and_open_ranges(
        self, client: httpx.AsyncClient, media_store: MediaStore
    ) -> None:
        key = await stored(media_store)
        tail = await client.get(f"/media/{key}", headers={"Range": "bytes=-17"})
        assert (tail.status_code, tail.content) == (206, DATA[-17:])
        rest = await client.get(f"/media/{key}", headers={"Range": f"bytes={len(DATA) - 3}-"})
        assert (rest.status_code, rest.content) == (206, DATA[-3:])

    @pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=10-5", "bytes=x-y"])
    async def test_bad_ranges_are_416(
        self, client: httpx.AsyncClient, media_store: MediaStore, header: str
    ) -> None:
        key = await stored(media_store)
        response = await client.get(f"/media/{key}", headers={"Range": header})
        assert response.status_code == 416
        assert response.headers["content-range"] == f"bytes */{len(DATA)}"
        assert response.json()["code"] == "range_not_satisfiable"

    async def test_multiple_ranges_get_the_whole_file(
        self, client: httpx.AsyncClient, media_store: MediaStore
    ) -> None:
        key = await stored(media_store)
        response = await client.get(f"/media/{key}", headers={"Range": "bytes=0-1,5-9"})
        assert (response.status_code, len(response.content)) == (200, len(DATA))


class TestHead:
    async def test_headers_without_body(
        self, client: httpx.AsyncClient, media_store: MediaStore
    ) -> None:
        key = await stored(media_store)
        response = await client.head(f"/media/{key}")
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["content-length"] == str(len(DATA))
        assert response.headers["content-type"] == "image/jpeg"
        ranged = await client.head(f"/media/{key}", headers={"Range": "bytes=0-9"})
        assert ranged.status_code == 206
        assert ranged.headers["content-length"] == "10"
        assert (await client.head(f"/media/{new_key('jpg')}")).status_code == 404


class TestWithS3:
    async def test_served_from_the_bucket_through_the_app(
        self, app: FastAPI, client: httpx.AsyncClient, s3_endpoint: str
    ) -> None:
        store = make_s3_store(s3_endpoint)
        app.state.media_store = store
        key = await stored(store)
        response = await client.get(f"/media/{key}", headers={"Range": "bytes=10-19"})
        assert (response.status_code, response.content) == (206, DATA[10:20])
        assert store.public_url(key) == f"{s3_endpoint}/{store.bucket}/{key}"


class TestOpenApi:
    async def test_documented_without_redirects(self, client: httpx.AsyncClient) -> None:
        schema = (await client.get("/openapi.json")).json()
        operations = schema["paths"]["/media/{key}"]
        assert set(operations) == {"get", "head"}
        assert {"200", "206", "404", "416"} <= set(operations["get"]["responses"])
