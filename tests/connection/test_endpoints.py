"""Connect TikTok end to end against the sandbox."""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.fixtures.app import AccountWithKeys, create_account
from tests.fixtures.consent import consent
from zakipost.config import Settings
from zakipost.kit.crypto import Vault
from zakipost.models import Connection, OAuthState


async def _connections(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Connection]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Connection))).all())


async def _authorize_url(client: httpx.AsyncClient, owner: AccountWithKeys) -> str:
    started = await client.post("/v1/tiktok/connect", json={}, headers=owner.headers)
    assert started.status_code == 200
    return str(started.json()["data"]["authorize_url"])


class TestConnect:
    async def test_approve_connects_and_lists_the_account(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        query = await connect_via_api(client, owner)
        token = query["tiktok_account_id"]
        uuid.UUID(token)

        listed = await client.get("/v1/tiktok/accounts", headers=owner.headers)
        assert listed.status_code == 200
        [entry] = listed.json()["data"]
        assert entry["tiktok_account_id"] == token
        assert entry["status"] == "active"
        assert entry["username"]
        assert entry["nickname"]
        assert set(entry["scopes"]) >= {"video.publish", "video.upload", "user.info.basic"}
        assert "act." not in listed.text and "rft." not in listed.text

        [row] = await _connections(sessionmaker)
        assert row.access_token_encrypted and row.access_token_encrypted.startswith("v1:")
        assert "act." not in row.access_token_encrypted

    async def test_authorize_url_carries_tiktok_parameters(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, settings: Settings
    ) -> None:
        url = await _authorize_url(client, owner)
        parts = urlsplit(url)
        assert parts.path.endswith("/v2/auth/authorize/")
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert params["response_type"] == "code"
        assert params["scope"] == ",".join(settings.tiktok.scopes)
        assert params["redirect_uri"] == settings.tiktok_redirect_uri
        assert params["code_challenge_method"] == "S256"
        assert len(params["state"]) >= 32

    async def test_fresh_creator_info_on_one_account(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, connected: uuid.UUID
    ) -> None:
        response = await client.get(f"/v1/tiktok/accounts/{connected}", headers=owner.headers)
        assert response.status_code == 200
        info = response.json()["data"]["creator_info"]
        assert "PUBLIC_TO_EVERYONE" in info["privacy_level_options"]
        assert info["max_video_post_duration_sec"] == 600
        assert info["can_post"] is True
        assert info["nickname"]

    async def test_the_account_shows_its_token_times_and_scopes_never_a_token(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        connected: uuid.UUID,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        response = await client.get(f"/v1/tiktok/accounts/{connected}", headers=owner.headers)
        assert response.status_code == 200
        data = response.json()["data"]
        [row] = await _connections(sessionmaker)
        times = {
            key: dt.datetime.fromisoformat(data[key])
            for key in ("access_expires_at", "next_refresh_at", "reconnect_by")
        }
        assert times["access_expires_at"] == row.access_expires_at
        assert times["next_refresh_at"] == row.refresh_planned_at
        assert times["reconnect_by"] == row.refresh_expires_at
        assert row.last_refreshed_at is not None
        lifetime = times["access_expires_at"] - row.last_refreshed_at
        assert lifetime == dt.timedelta(hours=2)
        assert lifetime / 2 <= times["next_refresh_at"] - row.last_refreshed_at <= lifetime * 3 / 4
        assert sorted(data["scopes"]) == ["user.info.basic", "video.publish", "video.upload"]
        assert data["reconnect_warning"] is None
        assert "act." not in response.text and "rft." not in response.text

    async def test_deny_stores_nothing(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        query = await connect_via_api(client, owner, decision="deny")
        assert query["error"] == "access_denied"
        assert "declined" in query["error_description"]
        assert await _connections(sessionmaker) == []

    async def test_forged_state_is_refused(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        url = await _authorize_url(client, owner)
        result = await consent(client, url)
        forged = result.location.replace(result.query["state"], "forged-state-value")
        response = await client.get(forged)
        assert response.status_code == 400
        assert "not one we issued" in response.text
        assert await _connections(sessionmaker) == []

    async def test_reused_state_is_refused(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        url = await _authorize_url(client, owner)
        result = await consent(client, url)
        first = await client.get(result.location)
        assert first.status_code == 200
        again = await client.get(result.location)
        assert again.status_code == 400
        assert "already used" in again.text
        assert len(await _connections(sessionmaker)) == 1

    async def test_expired_state_is_refused(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        url = await _authorize_url(client, owner)
        result = await consent(client, url)
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(OAuthState).values(
                    expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
                )
            )
        response = await client.get(result.location)
        assert response.status_code == 400
        assert "expired" in response.text
        assert await _connections(sessionmaker) == []

    async def test_state_of_another_signed_in_account_is_refused(
        self,
        app,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> None:
        from zakipost.connection import service
        from zakipost.connection.service import CallbackParams

        other = await create_account(sessionmaker, settings, vault, email="other@example.com")
        url = await _authorize_url(client, owner)
        result = await consent(client, url)
        outcome = await service.complete_connect(
            sessionmaker,
            settings,
            vault,
            app.state.tiktok,
            CallbackParams(
                result.query["state"], result.query["code"], result.query["scopes"], None, None
            ),
            signed_in_account=other.account.id,
        )
        assert not outcome.ok
        assert "another ZakiPost account" in (outcome.error_description or "")
        assert await _connections(sessionmaker) == []

    async def test_missing_scopes_are_named(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        query = await connect_via_api(client, owner, drop_scopes=("video.publish",))
        assert query["error"] == "missing_scopes"
        assert "video.publish" in query["error_description"]
        assert await _connections(sessionmaker) == []

    async def test_reconnecting_the_same_creator_keeps_the_id(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        first = await connect_via_api(client, owner)
        second = await connect_via_api(client, owner)
        assert first["tiktok_account_id"] == second["tiktok_account_id"]
        assert len(await _connections(sessionmaker)) == 1

    async def test_a_second_creator_is_a_second_account(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        first = await connect_via_api(client, owner, creator_index=0)
        second = await connect_via_api(client, owner, creator_index=1)
        assert first["tiktok_account_id"] != second["tiktok_account_id"]
        listed = await client.get("/v1/tiktok/accounts", headers=owner.headers)
        assert len(listed.json()["data"]) == 2

    async def test_bad_redirect_url(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        response = await client.post(
            "/v1/tiktok/connect",
            json={"redirect_url": "javascript:alert(1)"},
            headers=owner.headers,
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_redirect_url"


class TestDisconnect:
    async def test_revokes_at_tiktok_and_deletes_tokens(
        self,
        app,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        connected: uuid.UUID,
        sessionmaker: async_sessionmaker[AsyncSession],
        vault: Vault,
    ) -> None:
        from zakipost.connection.tokens import access_context

        [row] = await _connections(sessionmaker)
        assert row.access_token_encrypted is not None
        token = vault.open(row.access_token_encrypted, context=access_context(row.id))

        response = await client.delete(f"/v1/tiktok/accounts/{connected}", headers=owner.headers)
        assert response.status_code == 200
        assert response.json()["data"]["status"] == "revoked"

        [row] = await _connections(sessionmaker)
        assert row.access_token_encrypted is None and row.refresh_token_encrypted is None
        user_info = await client.get(
            "http://127.0.0.1:8000/sandbox/v2/user/info/",
            params={"fields": "open_id"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert user_info.status_code == 401
        assert user_info.json()["error"]["code"] == "access_token_invalid"


class TestTenantIsolation:
    async def test_another_accounts_connection_is_404(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        connected: uuid.UUID,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> None:
        other = await create_account(sessionmaker, settings, vault, email="intruder@example.com")
        for method in ("GET", "DELETE"):
            response = await client.request(
                method, f"/v1/tiktok/accounts/{connected}", headers=other.headers
            )
            assert response.status_code == 404
            assert response.json()["code"] == "tiktok_account_not_found"
        listed = await client.get("/v1/tiktok/accounts", headers=other.headers)
        assert listed.json()["data"] == []

    async def test_malformed_id_is_404(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        response = await client.get("/v1/tiktok/accounts/not-a-uuid", headers=owner.headers)
        assert response.status_code == 404


class TestCreatorCannotPost:
    async def test_account_shows_why_and_keeps_the_last_options(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, connected: uuid.UUID, sandbox
    ) -> None:
        first = await client.get(f"/v1/tiktok/accounts/{connected}", headers=owner.headers)
        options = first.json()["data"]["creator_info"]["privacy_level_options"]
        sandbox.force_daily_cap(sandbox.creators[0].open_id, True)

        response = await client.get(f"/v1/tiktok/accounts/{connected}", headers=owner.headers)
        info = response.json()["data"]["creator_info"]
        assert info["can_post"] is False
        assert info["cannot_post_reason"] == "spam_risk_too_many_posts"
        assert info["privacy_level_options"] == options
