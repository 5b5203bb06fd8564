"""Dashboard helpers: a browser-like client signed in through the pages, a TikTok account
connected through the dashboard's own Connect TikTok button."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import AccountWithKeys, create_account
from tests.fixtures.consent import consent
from zakipost.config import Settings
from zakipost.kit.crypto import Vault
from zakipost.models import Connection


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def sign_up(
    client: httpx.AsyncClient, email: str = "new@example.com", password: str = "long enough pw"
) -> httpx.Response:
    page = await client.get("/dashboard/signup")
    return await client.post(
        "/dashboard/signup",
        data={"email": email, "password": password, "csrf_token": csrf_of(page)},
    )


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/dashboard/login")
    return await client.post(
        "/dashboard/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page)},
    )


async def post_form(
    client: httpx.AsyncClient, page_path: str, action: str, data: dict[str, Any] | None = None
) -> httpx.Response:
    """Open ``page_path`` (for its CSRF token) and send ``data`` to ``action``."""
    page = await client.get(page_path)
    assert page.status_code == 200, page.text
    return await client.post(action, data={**(data or {}), "csrf_token": csrf_of(page)})


async def connect_creator(client: httpx.AsyncClient, creator_index: int | None = None) -> str:
    """Connect TikTok from the accounts page; the new account's tiktok_account_id."""
    before = set(re.findall(r'data-tiktok-account-id="([^"]+)"', (await accounts(client)).text))
    started = await post_form(client, "/dashboard/accounts", "/dashboard/accounts/connect")
    assert started.status_code == 303, started.text
    result = await consent(client, started.headers["location"], creator_index=creator_index)
    back = await client.get(result.location)
    assert back.headers["location"] == "/dashboard/accounts?connected=1", back.text
    after = set(re.findall(r'data-tiktok-account-id="([^"]+)"', (await accounts(client)).text))
    (new,) = after - before or after
    return new


async def accounts(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/dashboard/accounts")


@dataclass
class Browser:
    """A signed-in dashboard user: the account and its own cookie jar."""

    client: httpx.AsyncClient
    owner: AccountWithKeys


async def signed_in_browser(
    app: FastAPI, owner: AccountWithKeys
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=app.state.settings.public_url
    ) as client:
        response = await log_in(client, owner.account.email, owner.password)
        assert response.status_code == 303, response.text
        yield client


@pytest.fixture
async def browser(app: FastAPI, client: httpx.AsyncClient, owner: AccountWithKeys) -> Browser:
    """The owner, signed in on ``client``."""
    response = await log_in(client, owner.account.email, owner.password)
    assert response.status_code == 303, response.text
    return Browser(client, owner)


@pytest.fixture
async def intruder(
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    vault: Vault,
) -> AsyncIterator[Browser]:
    """Another account, signed in on a browser of its own."""
    other = await create_account(sessionmaker, settings, vault, email="intruder@example.com")
    async for client in signed_in_browser(app, other):
        yield Browser(client, other)


@pytest.fixture
async def account_id(browser: Browser) -> str:
    """sandbox.creator, connected from the dashboard."""
    return await connect_creator(browser.client)


async def tiktok_tokens(sessionmaker: async_sessionmaker[AsyncSession], vault: Vault) -> list[str]:
    """Every TikTok access and refresh token ZakiPost holds, in the clear."""
    from zakipost.connection.tokens import access_context, refresh_context

    values = []
    async with sessionmaker() as session:
        for connection in (await session.scalars(select(Connection))).all():
            if connection.access_token_encrypted:
                values.append(
                    vault.open(
                        connection.access_token_encrypted, context=access_context(connection.id)
                    )
                )
            if connection.refresh_token_encrypted:
                values.append(
                    vault.open(
                        connection.refresh_token_encrypted, context=refresh_context(connection.id)
                    )
                )
    return values


def new_uuid() -> str:
    return str(uuid.uuid4())
