"""The webhook API's edges: bad changes refused with a 422 that says what to change, another
account's endpoint a 404, settings read from ZAKIPOST_WEBHOOKS_*, secrets resealed with the
other ciphertexts when a master key is added."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import TEST_MASTER_KEY, AccountWithKeys, create_account
from tests.webhook.conftest import create_webhook
from zakipost.config import Settings, SettingsError, load_settings
from zakipost.kit.crypto import Vault, new_master_key, parse_master_keys
from zakipost.maintenance.reencrypt import reencrypt_all
from zakipost.models import WebhookEndpoint
from zakipost.webhook.service import signing_secrets

URL = "https://93.184.216.34/hook"


class TestUpdate:
    async def test_bad_changes_are_refused_and_change_nothing(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        hook = await create_webhook(client, owner, URL, description="first")
        path = f"/v1/webhooks/{hook['id']}"
        for body, word in (
            ({"overlap_seconds": 60}, "rotate_secret"),
            ({"url": None}, "url"),
            ({"url": "https://127.0.0.1/x", "description": "second"}, "loopback"),
            ({"events": []}, "events"),
            ({"events": ["post.nope"]}, "post.nope"),
        ):
            response = await client.patch(path, json=body, headers=owner.headers)
            assert response.status_code == 422, (body, response.text)
            assert word in response.json()["message"]
        now = (await client.get(path, headers=owner.headers)).json()["data"]
        assert now["url"] == URL and now["description"] == "first"

    async def test_another_accounts_endpoint_is_not_found(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> None:
        hook = await create_webhook(client, owner, URL)
        other = await create_account(sessionmaker, settings, vault, email="x@example.com")
        path = f"/v1/webhooks/{hook['id']}"
        assert (await client.get(path, headers=other.headers)).status_code == 404
        patched = await client.patch(path, json={"enabled": False}, headers=other.headers)
        assert patched.status_code == 404
        assert (await client.delete(path, headers=other.headers)).status_code == 404
        assert (await client.post(f"{path}/test", headers=other.headers)).status_code == 404
        log = await client.get(f"{path}/deliveries", headers=other.headers)
        assert log.status_code == 404
        retry = await client.post(f"{path}/deliveries/{uuid.uuid4()}/retry", headers=owner.headers)
        assert retry.status_code == 404
        assert (await client.get(path, headers=owner.headers)).json()["data"]["enabled"] is True
        assert (await client.delete(path, headers=owner.headers)).status_code == 204
        assert (await client.get("/v1/webhooks", headers=owner.headers)).json()["data"] == []

    async def test_a_disabled_endpoint_takes_no_test_event(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        hook = await create_webhook(client, owner, URL)
        path = f"/v1/webhooks/{hook['id']}"
        await client.patch(path, json={"enabled": False}, headers=owner.headers)
        response = await client.post(f"{path}/test", headers=owner.headers)
        assert response.status_code == 409
        assert "enable it" in response.json()["message"]


class TestSettings:
    def test_read_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ZAKIPOST_WEBHOOKS_TIMEOUT_SECONDS", "4.5")
        monkeypatch.setenv("ZAKIPOST_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true")
        settings = load_settings()
        assert settings.webhooks.timeout_seconds == 4.5
        assert settings.webhooks.allow_private_networks is True

    def test_production_refuses_private_networks(self) -> None:
        with pytest.raises(SettingsError, match="ZAKIPOST_WEBHOOKS_ALLOW_PRIVATE_NETWORKS"):
            load_settings(
                env="production",
                security={"session_secret": "s"},
                webhooks={"allow_private_networks": True},
            )


async def test_reencrypt_reseals_webhook_secrets(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    hook = await create_webhook(client, owner, URL)
    rotated = await client.patch(
        f"/v1/webhooks/{hook['id']}", json={"rotate_secret": True}, headers=owner.headers
    )
    k2 = new_master_key("k2")
    async with sessionmaker() as session, session.begin():
        report = await reencrypt_all(session, Vault(parse_master_keys(f"{TEST_MASTER_KEY},{k2}")))
    assert report.resealed["webhook_endpoints.secret_encrypted"] == 1
    assert report.resealed["webhook_endpoints.previous_secret_encrypted"] == 1
    async with sessionmaker() as session:
        endpoint = (await session.scalars(select(WebhookEndpoint))).one()
        assert endpoint.previous_secret_expires_at is not None
    only_new_key = Vault(parse_master_keys(k2))
    assert endpoint.secret_rotated_at is not None
    # During the overlap both secrets sign; the new master key alone opens both.
    found = signing_secrets(only_new_key, endpoint, endpoint.secret_rotated_at)
    assert found == [rotated.json()["data"]["secret"], hook["secret"]]
