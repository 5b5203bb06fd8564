"""Bad input is a 422 (or the endpoint's documented 4xx) naming what to change, never a 500:
NUL characters and lone surrogates, integers beyond the columns, foreign cursors, huge
Content-Range numbers, non-UTF-8 JSON, impossible ports, over-long redirect URLs."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.connection.conftest import CALLBACK_TARGET, connect_via_api
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.consent import consent
from zakipost.models import Post
from zakipost.plain_text import NUL, SURROGATE
from zakipost.schemas import INT32_MAX

VIDEO_URL = "https://videos.example.com/clip.mp4"
PHOTO_URL = "https://photos.example.com/1.jpg"


@pytest.fixture
async def account_id(client: httpx.AsyncClient, owner: AccountWithKeys) -> str:
    return (await connect_via_api(client, owner))["tiktok_account_id"]


def refused_field(response: httpx.Response, status: int = 422) -> str:
    """The field a 422 in the documented envelope names (the first one)."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["success"] is False
    assert payload["code"] == "validation_error"
    assert payload["message"].startswith("Invalid request: ")
    field: str = payload["details"]["fields"][0]["field"]
    return field


def raw_json(value: dict[str, Any]) -> bytes:
    """``value`` as JSON, keeping lone surrogates as ``\\udXXX`` escapes."""
    return json.dumps(value, ensure_ascii=True).encode()


async def post_json(
    client: httpx.AsyncClient, path: str, owner: AccountWithKeys, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        path,
        content=raw_json(body),
        headers={**owner.headers, "Content-Type": "application/json"},
    )


class TestTextInBodies:
    @pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
    @pytest.mark.parametrize("field", ["title", "video_url", "tiktok_account_id"])
    async def test_video_fields(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        field: str,
        bad: str,
    ) -> None:
        body = {"video_url": VIDEO_URL, "tiktok_account_id": account_id, field: bad}
        response = await post_json(client, "/v1/tiktok/publish", owner, body)
        assert refused_field(response) == field
        message = response.json()["details"]["fields"][0]["message"]
        assert message == (NUL if "\x00" in bad else SURROGATE)

    @pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
    async def test_photo_urls_and_description(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, account_id: str, bad: str
    ) -> None:
        body = {"photo_urls": [PHOTO_URL, bad], "tiktok_account_id": account_id}
        response = await post_json(client, "/v1/tiktok/photos", owner, body)
        assert refused_field(response) == "photo_urls.1"
        body = {"photo_urls": [PHOTO_URL], "tiktok_account_id": account_id, "description": bad}
        response = await post_json(client, "/v1/tiktok/photos", owner, body)
        assert refused_field(response) == "description"

    @pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
    async def test_key_name_redirect_url_and_filename(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, bad: str
    ) -> None:
        response = await post_json(client, "/v1/api-keys", owner, {"name": bad})
        assert refused_field(response) == "name"
        response = await post_json(
            client, "/v1/tiktok/connect", owner, {"redirect_url": f"https://a.example/{bad}"}
        )
        assert refused_field(response) == "redirect_url"
        response = await post_json(
            client,
            "/v1/media/uploads",
            owner,
            {"content_type": "video/mp4", "size": 100, "filename": bad},
        )
        assert refused_field(response) == "filename"

    async def test_non_utf8_json_is_the_documented_422(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        response = await client.post(
            "/v1/api-keys",
            content=b'{"name": "caf\xe9"}',
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        assert refused_field(response) == "body"
        assert "UTF-8" in response.json()["message"]


class TestTextInPathsAndQueries:
    @pytest.mark.parametrize(
        ("path", "field"),
        [
            ("/v1/tiktok/publish/v_pub_%00x", "publish_id"),
            ("/v1/tiktok/accounts/%00", "tiktok_account_id"),
            ("/v1/media/m%00x", "media_id"),
            ("/v1/tiktok/publish?tiktok_account_id=a%00", "tiktok_account_id"),
            ("/v1/tiktok/publish?cursor=%00", "cursor"),
        ],
    )
    async def test_nul_is_refused_naming_the_parameter(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, path: str, field: str
    ) -> None:
        response = await client.get(path, headers=owner.headers)
        assert refused_field(response) == field
        assert response.json()["details"]["fields"][0]["message"] == NUL


class TestIntegerBounds:
    async def test_points_offset_beyond_any_integer_column(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        for offset in (2**63, 2**31):
            response = await client.get(f"/v1/points?offset={offset}", headers=owner.headers)
            assert refused_field(response) == "offset"
        response = await client.get(f"/v1/points?offset={INT32_MAX}", headers=owner.headers)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["entries"] == []

    async def test_cover_timestamp_fits_the_integer_column_on_both_databases(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, account_id: str, sessionmaker
    ) -> None:
        body = {"video_url": VIDEO_URL, "tiktok_account_id": account_id}
        too_big = {**body, "video_cover_timestamp_ms": INT32_MAX + 1}
        response = await post_json(client, "/v1/tiktok/publish", owner, too_big)
        assert refused_field(response) == "video_cover_timestamp_ms"
        largest = {**body, "video_cover_timestamp_ms": INT32_MAX}
        response = await post_json(client, "/v1/tiktok/publish", owner, largest)
        assert response.status_code == 200, response.text
        async with sessionmaker() as session:
            post = (await session.scalars(select(Post))).one()
        assert post.video_cover_timestamp_ms == INT32_MAX

    async def test_a_content_range_with_thousands_of_digits(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        created = await post_json(
            client, "/v1/media/uploads", owner, {"content_type": "video/mp4", "size": 100}
        )
        assert created.status_code == 200, created.text
        media_id = created.json()["data"]["media_id"]
        huge = "9" * 5000
        # Headers are Latin-1: a superscript digit is one too, and no ASCII digit.
        superscript = "bytes 0-\u00b2/100".encode("latin-1")
        for header in (f"bytes 0-{huge}/100", f"bytes {huge}-1/100", superscript):
            response = await client.put(
                f"/v1/media/uploads/{media_id}",
                content=b"x" * 10,
                headers={**owner.headers, "Content-Range": header},
            )
            assert response.status_code == 400, response.text
            assert response.json()["code"] == "invalid_content_range"


def cursor_of(created: str) -> str:
    raw = f"{created}|{uuid.uuid4()}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class TestCursors:
    @pytest.mark.parametrize(
        "created",
        ["2026-01-01T00:00:00", "2026-01-01T00:00:00+23:59", "0001-01-01T00:00:00+05:00"],
        ids=["no-time-zone", "extreme-offset", "before-year-one-in-utc"],
    )
    async def test_a_cursor_this_api_never_returned(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, created: str
    ) -> None:
        response = await client.get(
            f"/v1/tiktok/publish?cursor={cursor_of(created)}", headers=owner.headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["message"] == "cursor is not one this API returned."

    async def test_the_cursors_it_returns_still_page(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, account_id: str
    ) -> None:
        body = {"video_url": VIDEO_URL, "tiktok_account_id": account_id}
        for _ in range(3):
            assert (await post_json(client, "/v1/tiktok/publish", owner, body)).status_code == 200
        first = await client.get("/v1/tiktok/publish?limit=2", headers=owner.headers)
        cursor = first.json()["data"]["next_cursor"]
        assert cursor
        second = await client.get(
            f"/v1/tiktok/publish?limit=2&cursor={cursor}", headers=owner.headers
        )
        assert second.status_code == 200, second.text
        assert len(second.json()["data"]["items"]) == 1


class TestMediaUrlPorts:
    @pytest.mark.parametrize("port", ["0", "65536", "-1"])
    async def test_impossible_ports_are_refused_at_acceptance(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, account_id: str, port: str
    ) -> None:
        url = f"https://videos.example.com:{port}/clip.mp4"
        body = {"video_url": url, "tiktok_account_id": account_id}
        response = await post_json(client, "/v1/tiktok/publish", owner, body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "media_url_invalid"
        assert response.json()["details"]["field"] == "video_url"
        body = {"photo_urls": [PHOTO_URL, url], "tiktok_account_id": account_id}
        response = await post_json(client, "/v1/tiktok/photos", owner, body)
        assert response.status_code == 422, response.text
        assert response.json()["details"]["field"] == "photo_urls.1"


class TestConnectState:
    async def test_redirect_url_length_is_bounded(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        url = "https://app.example.com/" + "a" * 2000
        response = await post_json(client, "/v1/tiktok/connect", owner, {"redirect_url": url})
        assert refused_field(response) == "redirect_url"

    async def _callback_of_a_connect(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> str:
        started = await client.post(
            "/v1/tiktok/connect", json={"redirect_url": CALLBACK_TARGET}, headers=owner.headers
        )
        assert started.status_code == 200, started.text
        result = await consent(client, started.json()["data"]["authorize_url"])
        return result.location

    async def test_a_used_state_ends_on_our_page(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        callback = await self._callback_of_a_connect(client, owner)
        first = await client.get(callback)
        assert first.status_code == 303
        assert first.headers["location"].startswith(CALLBACK_TARGET)
        replayed = await client.get(callback + "&error_description=Call+us+at+555")
        assert replayed.status_code == 400, replayed.headers
        assert "location" not in replayed.headers
        assert "already used" in replayed.text
        assert "555" not in replayed.text

    async def test_an_expired_state_ends_on_our_page(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, sessionmaker
    ) -> None:
        from zakipost.models import OAuthState

        callback = await self._callback_of_a_connect(client, owner)
        async with sessionmaker() as session, session.begin():
            state = (await session.scalars(select(OAuthState))).one()
            state.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        response = await client.get(callback)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "expired" in response.text
