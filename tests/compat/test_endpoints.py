"""The compatibility endpoints over the in-process client: idempotency, each product's error
shape for 401/402/403/404/429, paging and what is not offered. The SDK tests show the same
shapes turn into the SDKs' own exceptions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.fixtures.app import AccountWithKeys, create_account
from zakipost.api_key import service as api_key_service
from zakipost.config import Settings
from zakipost.kit.crypto import Vault
from zakipost.models import Post

ZERNIO = "/compat/zernio/api/v1"
CODIV = "/compat/codivupload/v1"
CONSENT = {"contentPreviewConfirmed": True, "expressConsentGiven": True}


async def bearer(
    sessionmaker: async_sessionmaker[AsyncSession], owner: AccountWithKeys
) -> dict[str, str]:
    async with sessionmaker() as session, session.begin():
        _, secret = await api_key_service.create(session, owner.account.id, name="compat")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def auth(
    sessionmaker: async_sessionmaker[AsyncSession], owner: AccountWithKeys
) -> dict[str, str]:
    return await bearer(sessionmaker, owner)


@pytest.fixture
async def account_id(client: httpx.AsyncClient, owner: AccountWithKeys) -> str:
    return (await connect_via_api(client, owner))["tiktok_account_id"]


def later(days: int = 1) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


def zernio_post(account_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "content": "Later",
        "mediaItems": [{"type": "video", "url": "https://cdn.example.com/a.mp4"}],
        "platforms": [{"platform": "tiktok", "accountId": account_id}],
        "tiktokSettings": dict(CONSENT),
        "scheduledFor": later(),
    }
    body.update(changes)
    return body


async def post_count(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(Post))).scalar_one())


class TestIdempotency:
    async def test_the_same_key_and_body_post_once(
        self,
        client: httpx.AsyncClient,
        auth: dict[str, str],
        account_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        body = zernio_post(account_id)
        headers = {**auth, "Idempotency-Key": "k-1"}
        first = await client.post(f"{ZERNIO}/posts", json=body, headers=headers)
        again = await client.post(f"{ZERNIO}/posts", json=body, headers=headers)
        assert first.status_code == again.status_code == 201, first.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert first.json()["post"]["_id"] == again.json()["post"]["_id"]
        assert await post_count(sessionmaker) == 1

        other = await client.post(
            f"{ZERNIO}/posts", json={**body, "content": "Other"}, headers=headers
        )
        assert other.status_code == 409
        assert other.json()["code"] == "idempotency_key_reused"

    async def test_zernios_request_id_makes_its_retries_safe(
        self,
        client: httpx.AsyncClient,
        auth: dict[str, str],
        account_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        body = zernio_post(account_id)
        headers = {**auth, "x-request-id": "0b7c9d4e-retry"}
        await client.post(f"{ZERNIO}/posts", json=body, headers=headers)
        await client.post(f"{ZERNIO}/posts", json=body, headers=headers)
        assert await post_count(sessionmaker) == 1

    async def test_codivupload_takes_an_idempotency_key(
        self,
        client: httpx.AsyncClient,
        auth: dict[str, str],
        account_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        body = {
            "platforms": ["tiktok"],
            "profile_name": account_id,
            "media_urls": ["https://cdn.example.com/a.mp4"],
            "scheduled_date": later(),
        }
        headers = {**auth, "Idempotency-Key": "c-1"}
        first = await client.post(f"{CODIV}/posts", json=body, headers=headers)
        again = await client.post(f"{CODIV}/posts", json=body, headers=headers)
        assert first.json()["id"] == again.json()["id"]
        assert await post_count(sessionmaker) == 1


class TestErrorShapes:
    async def test_401(self, client: httpx.AsyncClient) -> None:
        headers = {"Authorization": "Bearer zp_sk_wrong"}
        zernio = await client.get(f"{ZERNIO}/accounts", headers=headers)
        codiv = await client.get(f"{CODIV}/agency/profiles", headers=headers)
        assert zernio.status_code == codiv.status_code == 401
        assert zernio.json()["type"] == "authentication_error"
        assert zernio.json()["error"].startswith("Invalid API credentials")
        assert codiv.json() == {
            "success": False,
            "error": zernio.json()["error"],
            "code": "invalid_credentials",
        }

    async def test_401_before_the_body_is_read(self, client: httpx.AsyncClient) -> None:
        headers = {"Authorization": "Bearer zp_sk_wrong"}
        zernio = await client.post(f"{ZERNIO}/posts", content=b"{not json", headers=headers)
        codiv = await client.post(f"{CODIV}/posts", content=b"{not json", headers=headers)
        assert zernio.status_code == codiv.status_code == 401
        assert zernio.json()["type"] == "authentication_error"
        assert codiv.json()["code"] == "invalid_credentials"

    async def test_402_points_too_low_and_nothing_written(
        self,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> None:
        poor = await create_account(
            sessionmaker, settings, vault, email="poor@example.com", points=0
        )
        connected = (await connect_via_api(client, poor))["tiktok_account_id"]
        headers = await bearer(sessionmaker, poor)
        zernio = await client.post(f"{ZERNIO}/posts", json=zernio_post(connected), headers=headers)
        codiv = await client.post(
            f"{CODIV}/posts",
            json={
                "platforms": ["tiktok"],
                "profile_name": connected,
                "media_urls": ["https://cdn.example.com/a.mp4"],
            },
            headers=headers,
        )
        assert zernio.status_code == codiv.status_code == 402
        assert zernio.json()["code"] == codiv.json()["code"] == "insufficient_points"
        assert zernio.json()["type"] == "permission_error"
        assert await post_count(sessionmaker) == 0

    async def test_403_plan_without_api_access(
        self,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> None:
        free = await create_account(
            sessionmaker, settings, vault, email="free@example.com", plan="free"
        )
        headers = await bearer(sessionmaker, free)
        zernio = await client.get(f"{ZERNIO}/posts", headers=headers)
        codiv = await client.get(f"{CODIV}/posts", headers=headers)
        assert zernio.status_code == codiv.status_code == 403
        assert zernio.json()["type"] == "permission_error"
        assert codiv.json()["code"] == "plan_without_api_access"

    async def test_404(self, client: httpx.AsyncClient, auth: dict[str, str]) -> None:
        zernio = await client.get(f"{ZERNIO}/posts/v_pub_0000000000000000", headers=auth)
        codiv = await client.delete(f"{CODIV}/posts/v_pub_0000000000000000", headers=auth)
        assert zernio.status_code == codiv.status_code == 404
        assert zernio.json()["type"] == "not_found"
        assert codiv.json()["code"] == "post_not_found"

    async def test_429_a_sixth_pending_draft(
        self, client: httpx.AsyncClient, auth: dict[str, str], account_id: str
    ) -> None:
        draft = zernio_post(account_id, tiktokSettings={"draft": True, **CONSENT})
        for _ in range(5):
            accepted = await client.post(f"{ZERNIO}/posts", json=draft, headers=auth)
            assert accepted.status_code == 201, accepted.text
        refused = await client.post(f"{ZERNIO}/posts", json=draft, headers=auth)
        assert refused.status_code == 429
        assert refused.json()["type"] == "rate_limit_error"
        assert refused.json()["code"] == "too_many_pending_drafts"

    async def test_what_is_not_offered_is_a_shaped_404(
        self, client: httpx.AsyncClient, auth: dict[str, str]
    ) -> None:
        zernio = await client.get(f"{ZERNIO}/analytics", headers=auth)
        codiv = await client.post(f"{CODIV}/upload-media", json={}, headers=auth)
        assert zernio.status_code == codiv.status_code == 404
        assert "not part of Zernio's API" in zernio.json()["error"]
        assert codiv.json()["success"] is False


class TestListing:
    async def test_zernio_pages_by_number_and_filters_by_status(
        self, client: httpx.AsyncClient, auth: dict[str, str], account_id: str
    ) -> None:
        ids = []
        for n in range(3):
            created = await client.post(
                f"{ZERNIO}/posts", json=zernio_post(account_id, content=f"n{n}"), headers=auth
            )
            ids.append(created.json()["post"]["_id"])
        await client.delete(f"{ZERNIO}/posts/{ids[0]}", headers=auth)
        second = await client.get(f"{ZERNIO}/posts", params={"page": 2, "limit": 2}, headers=auth)
        assert [p["_id"] for p in second.json()["posts"]] == [ids[0]]
        assert second.json()["pagination"] == {"page": 2, "limit": 2, "total": 3, "pages": 2}
        scheduled = await client.get(
            f"{ZERNIO}/posts", params={"status": "scheduled"}, headers=auth
        )
        assert [p["_id"] for p in scheduled.json()["posts"]] == [ids[2], ids[1]]
        drafts = await client.get(f"{ZERNIO}/posts", params={"status": "draft"}, headers=auth)
        assert drafts.json()["posts"] == []

    async def test_codivupload_filters_by_profile_and_offsets(
        self, client: httpx.AsyncClient, auth: dict[str, str], account_id: str
    ) -> None:
        body = {
            "platforms": ["tiktok"],
            "profile_name": account_id,
            "media_urls": ["https://cdn.example.com/a.mp4"],
            "scheduled_date": later(),
        }
        first = (await client.post(f"{CODIV}/posts", json=body, headers=auth)).json()
        second = (await client.post(f"{CODIV}/posts", json=body, headers=auth)).json()
        page = await client.get(
            f"{CODIV}/posts",
            params={"profile_name": account_id, "limit": 1, "offset": 1, "status": "scheduled"},
            headers=auth,
        )
        assert [p["post_id"] for p in page.json()["posts"]] == [first["post_id"]]
        assert page.json()["total"] == 2
        assert second["status"] == "scheduled"


class TestSchema:
    def test_the_compatibility_routes_stay_out_of_zakiposts_openapi(self, app) -> None:
        paths = app.openapi()["paths"]
        assert paths and not [path for path in paths if path.startswith("/compat")]
