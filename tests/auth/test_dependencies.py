"""The contract's 401 and 403, exactly as callers handle them."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import AccountWithKeys, create_account
from zakipost.account import service as account_service
from zakipost.config import Settings
from zakipost.kit.crypto import Vault


class TestApiCredentials:
    async def test_valid_pair(self, client: httpx.AsyncClient, owner: AccountWithKeys) -> None:
        response = await client.get("/v1/account", headers=owner.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True
        assert body["data"]["client_key"] == owner.credentials.client_key
        assert owner.credentials.client_secret not in response.text

    async def test_missing_headers(self, client: httpx.AsyncClient, owner: AccountWithKeys) -> None:
        response = await client.get("/v1/account")
        assert response.status_code == 401
        body = response.json()
        assert body["success"] is False
        assert body["code"] == "invalid_credentials"
        assert body["message"].startswith("Invalid API credentials")

    async def test_wrong_secret(self, client: httpx.AsyncClient, owner: AccountWithKeys) -> None:
        headers = {**owner.headers, "X-ZakiPost-Client-Secret": "x" * 40}
        response = await client.get("/v1/account", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_credentials"

    async def test_unknown_key(self, client: httpx.AsyncClient, owner: AccountWithKeys) -> None:
        headers = {**owner.headers, "X-ZakiPost-Client-Key": "zp_key_" + "0" * 32}
        response = await client.get("/v1/account", headers=headers)
        assert response.status_code == 401

    async def test_only_key_sent(self, client: httpx.AsyncClient, owner: AccountWithKeys) -> None:
        headers = {"X-ZakiPost-Client-Key": owner.credentials.client_key}
        response = await client.get("/v1/account", headers=headers)
        assert response.status_code == 401

    async def test_truncated_secret(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        headers = {
            **owner.headers,
            "X-ZakiPost-Client-Secret": owner.credentials.client_secret[:-1],
        }
        response = await client.get("/v1/account", headers=headers)
        assert response.status_code == 401
        assert "copied whole" in response.json()["message"]


class TestPlanAccess:
    async def test_free_plan_is_403(
        self,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> None:
        free = await create_account(sessionmaker, settings, vault, plan="free")
        response = await client.get("/v1/account", headers=free.headers)
        assert response.status_code == 403
        body = response.json()
        assert body["code"] == "plan_without_api_access"
        assert "free" in body["message"]

    async def test_expired_subscription_is_403(
        self,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        owner: AccountWithKeys,
    ) -> None:
        async with sessionmaker() as session, session.begin():
            account = await account_service.get(session, owner.account.id)
            expired = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
            await account_service.set_plan(
                session, settings, account, plan="pro", expires_at=expired
            )
        response = await client.get("/v1/account", headers=owner.headers)
        assert response.status_code == 403
        assert response.json()["code"] == "subscription_expired"
        assert "expired" in response.json()["message"]

    async def test_wrong_credentials_win_over_plan(
        self,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> None:
        free = await create_account(sessionmaker, settings, vault, plan="free")
        headers = {**free.headers, "X-ZakiPost-Client-Secret": "y" * 40}
        response = await client.get("/v1/account", headers=headers)
        assert response.status_code == 401


class TestNamedKeys:
    async def test_create_use_and_revoke(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        created = await client.post(
            "/v1/api-keys", json={"name": "production"}, headers=owner.headers
        )
        assert created.status_code == 200
        key = created.json()["data"]["key"]
        assert key.startswith("zp_sk_")

        bearer = {"Authorization": f"Bearer {key}"}
        assert (await client.get("/v1/account", headers=bearer)).status_code == 200

        listed = await client.get("/v1/api-keys", headers=owner.headers)
        assert key not in listed.text
        assert listed.json()["data"][0]["prefix"] == key[:12]

        key_id = created.json()["data"]["id"]
        assert (
            await client.delete(f"/v1/api-keys/{key_id}", headers=owner.headers)
        ).status_code == 200
        assert (await client.get("/v1/account", headers=bearer)).status_code == 401

    async def test_rotation_kills_the_old_pair(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        rotated = await client.post("/v1/account/credentials/rotate", headers=owner.headers)
        assert rotated.status_code == 200
        new = rotated.json()["data"]
        assert new["client_key"] != owner.credentials.client_key
        assert (await client.get("/v1/account", headers=owner.headers)).status_code == 401
        headers = {
            "X-ZakiPost-Client-Key": new["client_key"],
            "X-ZakiPost-Client-Secret": new["client_secret"],
        }
        assert (await client.get("/v1/account", headers=headers)).status_code == 200
