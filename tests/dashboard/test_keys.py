"""The API keys page: the pair (secret only on request), rotation, named keys."""

from __future__ import annotations

import re

import httpx

from tests.dashboard.conftest import Browser, post_form


async def api_status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/v1/tiktok/accounts", headers=headers)).status_code


class TestPair:
    async def test_the_secret_is_hidden_until_asked_for(self, browser: Browser) -> None:
        page = await browser.client.get("/dashboard/keys")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert browser.owner.credentials.client_key in page.text
        assert browser.owner.credentials.client_secret not in page.text
        assert "Show the secret" in page.text
        shown = await post_form(browser.client, "/dashboard/keys", "/dashboard/keys/secret")
        assert shown.status_code == 200
        assert shown.headers["cache-control"] == "no-store"
        assert f'id="client-secret">{browser.owner.credentials.client_secret}<' in shown.text
        assert 'data-copy="client-secret"' in shown.text
        assert 'data-copy="client-key"' in shown.text

    async def test_rotation_asks_first_then_replaces_the_pair(self, browser: Browser) -> None:
        client = browser.client
        assert await api_status(client, browser.owner.headers) == 200
        confirm = await client.get("/dashboard/keys/rotate")
        assert confirm.status_code == 200
        assert "refused from the moment you confirm" in confirm.text
        # Only the confirmation's form rotates: the page itself changed nothing.
        assert await api_status(client, browser.owner.headers) == 200
        response = await post_form(client, "/dashboard/keys/rotate", "/dashboard/keys/rotate")
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/keys?rotated=1"
        page = await client.get(response.headers["location"])
        assert "the previous pair no longer works" in page.text
        rotated = await post_form(client, "/dashboard/keys", "/dashboard/keys/secret")
        key = re.search(r'id="client-key">([^<]+)<', rotated.text)
        secret = re.search(r'id="client-secret">([^<]+)<', rotated.text)
        assert key and secret
        assert key.group(1) != browser.owner.credentials.client_key
        assert await api_status(client, browser.owner.headers) == 401
        fresh = {"X-ZakiPost-Client-Key": key.group(1), "X-ZakiPost-Client-Secret": secret.group(1)}
        assert await api_status(client, fresh) == 200


class TestNamedKeys:
    async def test_created_shown_once_and_revoked(self, browser: Browser) -> None:
        client = browser.client
        created = await post_form(
            client, "/dashboard/keys", "/dashboard/keys/named", {"name": "production"}
        )
        assert created.status_code == 200
        match = re.search(r'id="new-key">([^<]+)<', created.text)
        assert match
        value = match.group(1)
        assert "shown only once" in created.text
        bearer = {"Authorization": f"Bearer {value}"}
        assert await api_status(client, bearer) == 200
        again = await client.get("/dashboard/keys")
        assert value not in again.text
        assert "production" in again.text
        revoke_link = re.search(r'href="(/dashboard/keys/named/[^"]+/revoke)"', again.text)
        assert revoke_link
        confirm = await client.get(revoke_link.group(1))
        assert "Revoke the key" in confirm.text
        revoked = await post_form(client, revoke_link.group(1), revoke_link.group(1))
        assert revoked.status_code == 303
        page = await client.get(revoked.headers["location"])
        assert "Key revoked" in page.text
        assert "revoked " in page.text
        assert await api_status(client, bearer) == 401

    async def test_a_name_is_required_and_the_error_is_next_to_the_field(
        self, browser: Browser
    ) -> None:
        response = await post_form(
            browser.client, "/dashboard/keys", "/dashboard/keys/named", {"name": "  "}
        )
        assert response.status_code == 400
        assert 'id="name-error"' in response.text
        assert "1 to 100 characters" in response.text
