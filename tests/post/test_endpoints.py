"""POST /v1/tiktok/publish: the contract's answers, validation, billing, idempotency."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.fixtures.app import AccountWithKeys, create_account
from zakipost.config import Settings
from zakipost.kit.crypto import Vault
from zakipost.models import Connection, ConnectionStatus, Job, PointEntry, Post, PostEvent

VIDEO_URL = "https://videos.example.com/clip.mp4"


@pytest.fixture
async def account_id(client: httpx.AsyncClient, owner: AccountWithKeys) -> str:
    query = await connect_via_api(client, owner)
    return query["tiktok_account_id"]


def body(account_id: str, **extra: object) -> dict[str, object]:
    return {"video_url": VIDEO_URL, "tiktok_account_id": account_id, **extra}


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


class TestPublish:
    async def test_contract_success_shape(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        response = await client.post(
            "/v1/tiktok/publish",
            json=body(
                account_id,
                title="Caption text with hashtags #zakipost",
                privacy_level="PUBLIC_TO_EVERYONE",
                disable_comment=False,
                disable_duet=False,
                disable_stitch=False,
                ai_generated_content=True,
            ),
            headers=owner.headers,
        )
        assert response.status_code == 200
        payload = response.json()
        assert set(payload) == {"success", "message", "data"}
        assert payload["success"] is True
        assert payload["message"] == "Publishing process started."
        assert set(payload["data"]) == {"publish_id"}
        assert re.fullmatch(r"v_pub_[A-Za-z0-9]{16}", payload["data"]["publish_id"])
        # The post, its job and the debit were committed together.
        assert await _count(sessionmaker, Post) == 1
        assert await _count(sessionmaker, Job) >= 1
        async with sessionmaker() as session:
            debit = await session.scalar(
                select(func.sum(PointEntry.amount)).where(PointEntry.kind == "debit")
            )
        assert debit == -400

    async def test_post_is_readable_with_its_timeline(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, account_id: str
    ) -> None:
        accepted = await client.post(
            "/v1/tiktok/publish", json=body(account_id), headers=owner.headers
        )
        publish_id = accepted.json()["data"]["publish_id"]
        response = await client.get(f"/v1/tiktok/publish/{publish_id}", headers=owner.headers)
        assert response.status_code == 200
        post = response.json()["data"]
        assert post["publish_id"] == publish_id
        assert post["status"] == "queued"
        assert post["tiktok_account_id"] == account_id
        assert post["timeline"][0]["message"].startswith("Accepted")
        listed = await client.get("/v1/tiktok/publish", headers=owner.headers)
        assert [p["publish_id"] for p in listed.json()["data"]["items"]] == [publish_id]

    async def test_insufficient_points_is_402_and_writes_nothing(
        self,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> None:
        poor = await create_account(
            sessionmaker, settings, vault, email="poor@example.com", points=399
        )
        account_id = (await connect_via_api(client, poor))["tiktok_account_id"]
        jobs_before = await _count(sessionmaker, Job)  # the connection's token refresh
        response = await client.post(
            "/v1/tiktok/publish", json=body(account_id), headers=poor.headers
        )
        assert response.status_code == 402
        payload = response.json()
        assert payload["success"] is False
        assert payload["code"] == "insufficient_points"
        assert "Insufficient points" in payload["message"]
        assert payload["details"] == {"balance": 399, "cost": 400}
        assert await _count(sessionmaker, Post) == 0
        assert await _count(sessionmaker, Job) == jobs_before == 1
        # On PostgreSQL the rows are one statement's CTEs, each gated on the spend.
        assert await _count(sessionmaker, PostEvent) == 0
        assert await _count(sessionmaker, PointEntry) == 1  # the grant alone

    async def test_billing_off_publishes_with_no_points(
        self, tmp_path, engine, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        from tests.fixtures.app import client_for, make_settings, running_app

        settings = make_settings(tmp_path, billing={"publish_cost": 0})
        async with running_app(settings, engine) as app, client_for(app) as client:
            broke = await create_account(sessionmaker, settings, app.state.vault, points=0)
            account_id = (await connect_via_api(client, broke))["tiktok_account_id"]
            response = await client.post(
                "/v1/tiktok/publish", json=body(account_id), headers=broke.headers
            )
        assert response.status_code == 200
        assert await _count(sessionmaker, PointEntry) == 0


class TestValidation:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"video_url": None}, "video_url"),
            ({"privacy_level": "EVERYONE"}, "privacy_level"),
            ({"title": "😀" * 1101}, "title"),
            ({"disable_comment": "yes"}, "disable_comment"),
            ({"video_cover_timestamp_ms": -1}, "video_cover_timestamp_ms"),
            ({"privacy": "SELF_ONLY"}, "privacy"),
            ({"video_url": " https://videos.example.com/a.mp4"}, "video_url"),
        ],
    )
    async def test_bad_fields_are_422_naming_the_field(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, account_id: str, change, field
    ) -> None:
        payload = body(account_id, **change)
        payload = {k: v for k, v in payload.items() if v is not None}
        response = await client.post("/v1/tiktok/publish", json=payload, headers=owner.headers)
        assert response.status_code == 422, response.text
        error = response.json()
        assert error["success"] is False
        assert error["code"] == "validation_error"
        assert field in error["message"]
        # Rules across fields (video_url or media_id) are reported on the body as a whole.
        assert any(f["field"] in (field, "body") for f in error["details"]["fields"])

    async def test_title_limit_counts_utf16_units(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, account_id: str
    ) -> None:
        ok = await client.post(
            "/v1/tiktok/publish", json=body(account_id, title="😀" * 1100), headers=owner.headers
        )
        assert ok.status_code == 200

    async def test_not_json(self, client: httpx.AsyncClient, owner: AccountWithKeys) -> None:
        response = await client.post(
            "/v1/tiktok/publish",
            content=b"video_url=x",
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 422
        assert response.json()["success"] is False

    @pytest.mark.parametrize("url", ["ftp://videos.example.com/a.mp4", "not a url", "http://"])
    async def test_video_url_must_be_http(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, account_id: str, url: str
    ) -> None:
        response = await client.post(
            "/v1/tiktok/publish", json=body(account_id, video_url=url), headers=owner.headers
        )
        assert response.status_code in (400, 422)
        assert response.json()["success"] is False
        assert "video_url" in response.json()["message"] or "URL" in response.json()["message"]

    async def test_unknown_account_is_404(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        response = await client.post(
            "/v1/tiktok/publish", json=body(str(uuid.uuid4())), headers=owner.headers
        )
        assert response.status_code == 404
        assert response.json()["code"] == "tiktok_account_not_found"

    async def test_another_accounts_connection_is_404(
        self,
        client: httpx.AsyncClient,
        account_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> None:
        other = await create_account(sessionmaker, settings, vault, email="other@example.com")
        response = await client.post(
            "/v1/tiktok/publish", json=body(account_id), headers=other.headers
        )
        assert response.status_code == 404
        assert await _count(sessionmaker, Post) == 0

    async def test_reconnect_required_is_409(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Connection).values(status=ConnectionStatus.reconnect_required)
            )
        response = await client.post(
            "/v1/tiktok/publish", json=body(account_id), headers=owner.headers
        )
        assert response.status_code == 409
        assert response.json()["code"] == "reconnect_required"


class TestIdempotency:
    async def test_same_key_and_body_publish_once(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        headers = {**owner.headers, "Idempotency-Key": "key-123"}
        first = await client.post("/v1/tiktok/publish", json=body(account_id), headers=headers)
        second = await client.post("/v1/tiktok/publish", json=body(account_id), headers=headers)
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()
        assert second.headers.get("Idempotent-Replayed") == "true"
        assert await _count(sessionmaker, Post) == 1
        async with sessionmaker() as session:
            debits = await session.scalar(select(func.count()).where(PointEntry.kind == "debit"))
        assert debits == 1

    async def test_same_key_other_body_is_409(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, account_id: str
    ) -> None:
        headers = {**owner.headers, "Idempotency-Key": "key-456"}
        await client.post("/v1/tiktok/publish", json=body(account_id), headers=headers)
        other = await client.post(
            "/v1/tiktok/publish", json=body(account_id, title="different"), headers=headers
        )
        assert other.status_code == 409
        assert other.json()["code"] == "idempotency_key_reused"


class TestTenantIsolation:
    async def test_another_accounts_post_is_invisible(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> None:
        accepted = await client.post(
            "/v1/tiktok/publish", json=body(account_id), headers=owner.headers
        )
        publish_id = accepted.json()["data"]["publish_id"]
        other = await create_account(sessionmaker, settings, vault, email="nosy@example.com")
        response = await client.get(f"/v1/tiktok/publish/{publish_id}", headers=other.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "post_not_found"
        listed = await client.get("/v1/tiktok/publish", headers=other.headers)
        assert listed.json()["data"]["items"] == []
        filtered = await client.get(
            "/v1/tiktok/publish", params={"tiktok_account_id": account_id}, headers=other.headers
        )
        assert filtered.status_code == 404
