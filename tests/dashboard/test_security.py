"""Across every dashboard page and form: CSRF tokens, tenant isolation, and no TikTok token
ever shown. Routes are read from the app, so a new page or form is covered as it is added."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.dashboard.conftest import (
    Browser,
    connect_creator,
    csrf_of,
    post_form,
    sign_up,
    tiktok_tokens,
)
from tests.dashboard.test_posts import publish
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from zakipost.dashboard.routes import endpoints
from zakipost.kit.crypto import Vault
from zakipost.models import Account, ApiKey, WebhookDelivery, WebhookEndpoint
from zakipost.worker import Worker

# Forms that work before signing in check the double-submit cookie instead of the session.
PRE_SESSION = {"/dashboard/login", "/dashboard/signup"}


def dashboard_routes(app: FastAPI, method: str) -> list[str]:
    return sorted({path for path, methods in endpoints() if method in methods})


@dataclass
class World:
    """The owner's things, and the paths that reach them."""

    publish_id: str
    account_id: str
    key_id: str
    webhook_id: str
    delivery_id: str

    def fill(self, path: str) -> str:
        return (
            path.replace("{publish_id}", self.publish_id)
            .replace("{tiktok_account_id}", self.account_id)
            .replace("{key_id}", self.key_id)
            .replace("{webhook_id}", self.webhook_id)
            .replace("{delivery_id}", self.delivery_id)
        )


@pytest.fixture
async def world(
    browser: Browser,
    account_id: str,
    media_server: MediaServer,
    sessionmaker: async_sessionmaker[AsyncSession],
    worker: Worker,
) -> World:
    (media_server.root / "clip.mp4").write_bytes(make_video(seconds=4))
    publish_id = await publish(browser, account_id, media_server.url("clip.mp4"))
    await settle(worker, sessionmaker)
    await post_form(browser.client, "/dashboard/keys", "/dashboard/keys/named", {"name": "ci"})
    # A literal public address: saved without a DNS lookup, and never delivered (no worker).
    hook_url = "https://93.184.216.34/hook"
    await post_form(browser.client, "/dashboard/webhooks", "/dashboard/webhooks", {"url": hook_url})
    async with sessionmaker() as session:
        key = (await session.scalars(select(ApiKey))).one()
        hook = (await session.scalars(select(WebhookEndpoint))).one()
    await post_form(browser.client, "/dashboard/webhooks", f"/dashboard/webhooks/{hook.id}/test")
    async with sessionmaker() as session:
        delivery = (await session.scalars(select(WebhookDelivery))).one()
    return World(publish_id, account_id, str(key.id), str(hook.id), str(delivery.id))


async def every_page(client: httpx.AsyncClient, app: FastAPI, world: World) -> dict[str, str]:
    """Every dashboard GET route (with the owner's ids), plus the pages forms lead to."""
    pages: dict[str, str] = {}
    for path in dashboard_routes(app, "GET"):
        url = world.fill(path)
        response = await client.get(url)
        if response.status_code in (200, 400, 403, 404):
            pages[url] = response.text
    extra = [
        f"/dashboard/compose?account={world.account_id}",
        f"/dashboard/posts?account={world.account_id}",
        f"/dashboard/posts/{world.publish_id}?new=1",
    ]
    for url in extra:
        pages[url] = (await client.get(url)).text
    pages["POST /dashboard/keys/secret"] = (
        await post_form(client, "/dashboard/keys", "/dashboard/keys/secret")
    ).text
    return pages


class TestCsrf:
    async def test_every_form_on_every_page_carries_the_token(
        self, browser: Browser, app: FastAPI, world: World
    ) -> None:
        pages = await every_page(browser.client, app, world)
        forms = 0
        for url, html in pages.items():
            for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", html, re.DOTALL):
                forms += 1
                assert 'name="csrf_token" value="' in form, (url, form)
        assert forms >= 10, sorted(pages)

    async def test_every_form_post_without_the_token_is_refused(
        self,
        browser: Browser,
        app: FastAPI,
        world: World,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        async with sessionmaker() as session:
            before = (await session.scalars(select(Account))).one().client_key
        posts = dashboard_routes(app, "POST")
        assert len(posts) >= 12
        for path in posts:
            url = world.fill(path)
            for data in ({}, {"csrf_token": "not-the-token"}):
                response = await browser.client.post(url, data=data)
                assert response.status_code == 403, (url, data, response.status_code)
                assert "Form expired" in response.text or url.endswith("/media")
        # Nothing happened: still signed in, same keys, the account still connected.
        async with sessionmaker() as session:
            assert (await session.scalars(select(Account))).one().client_key == before
        page = await browser.client.get("/dashboard/accounts")
        assert page.status_code == 200
        assert 'class="status status-active"' in page.text

    async def test_a_token_from_another_session_is_refused(
        self, browser: Browser, intruder: Browser
    ) -> None:
        theirs = csrf_of(await intruder.client.get("/dashboard/keys"))
        response = await browser.client.post("/dashboard/keys/secret", data={"csrf_token": theirs})
        assert response.status_code == 403

    @pytest.mark.parametrize("path", sorted(PRE_SESSION))
    async def test_forms_before_sign_in_need_the_cookie_token(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        page = await client.get(path)
        token = csrf_of(page)
        data = {"email": "someone@example.com", "password": "long enough pw"}
        assert (await client.post(path, data=data)).status_code == 403
        client.cookies.delete("zp_csrf")
        assert (await client.post(path, data={**data, "csrf_token": token})).status_code == 403

    async def test_the_upload_needs_the_header_token(self, browser: Browser) -> None:
        response = await browser.client.post(
            "/dashboard/media", content=b"x", headers={"Content-Type": "video/mp4"}
        )
        assert response.status_code == 403


class TestTenantIsolation:
    async def test_nothing_of_one_account_reaches_another(
        self, browser: Browser, intruder: Browser, app: FastAPI, world: World
    ) -> None:
        owner = browser.owner
        secrets = [
            world.publish_id,
            world.account_id,
            world.key_id,
            owner.account.email,
            owner.credentials.client_key,
            "@sandbox.creator",
        ]
        # Their own pages show none of the owner's things.
        for path in dashboard_routes(app, "GET"):
            if "{" in path:
                continue
            response = await intruder.client.get(path)
            for secret in secrets:
                assert secret not in response.text, (path, secret)
        # The owner's things, asked for by id, are not found (and nothing is revealed).
        for path in dashboard_routes(app, "GET"):
            if "{" not in path:
                continue
            response = await intruder.client.get(world.fill(path))
            assert response.status_code == 404, path
            assert "@sandbox.creator" not in response.text
        filtered = await intruder.client.get(f"/dashboard/posts?account={world.account_id}")
        assert filtered.status_code == 404
        composing = await intruder.client.get(f"/dashboard/compose?account={world.account_id}")
        assert composing.status_code == 404
        # Their forms, aimed at the owner's things, change nothing.
        token = csrf_of(await intruder.client.get("/dashboard/keys"))
        for path in dashboard_routes(app, "POST"):
            if "{" not in path:
                continue
            response = await intruder.client.post(world.fill(path), data={"csrf_token": token})
            assert response.status_code == 404, path
        page = await browser.client.get("/dashboard/accounts")
        assert 'class="status status-active"' in page.text
        keys = await browser.client.get("/dashboard/keys")
        assert "Revoke…" in keys.text


class TestNoTikTokToken:
    async def test_no_page_ever_shows_a_tiktok_token(
        self,
        browser: Browser,
        app: FastAPI,
        world: World,
        sessionmaker: async_sessionmaker[AsyncSession],
        vault: Vault,
    ) -> None:
        tokens = await tiktok_tokens(sessionmaker, vault)
        assert len(tokens) == 2
        pages = await every_page(browser.client, app, world)
        assert len(pages) >= 12
        for url, html in pages.items():
            for token in tokens:
                assert token not in html, url
            # The sandbox's token shapes, in case one was stored under another name.
            assert not re.search(r"\b(act|rft)\.[A-Za-z0-9]", html), url


async def test_sign_up_then_every_page_renders(client: httpx.AsyncClient, app: FastAPI) -> None:
    """A brand-new account, with nothing yet, sees every page without an error."""
    await sign_up(client, "empty@example.com")
    for path in dashboard_routes(app, "GET"):
        if "{" in path or path.endswith("/status"):
            continue
        response = await client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
    connect = await connect_creator(client)
    assert connect
