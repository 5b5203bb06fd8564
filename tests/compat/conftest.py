"""The shared test app served on a loopback port in the test's own event loop, so the
rivals' SDKs (synchronous httpx clients) reach it over a real socket from a thread, and
a named key for them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import CALLBACK_TARGET
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.consent import consent
from tests.fixtures.servers import free_port
from zakipost.api_key import service as api_key_service


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app's address on loopback. uvicorn runs as a task of this loop (the app's
    database connections belong to it); the SDKs are called from threads."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def named_key(sessionmaker: async_sessionmaker[AsyncSession], owner: AccountWithKeys) -> str:
    async with sessionmaker() as session, session.begin():
        _, secret = await api_key_service.create(session, owner.account.id, name="migration")
    return secret


async def finish_consent(client: httpx.AsyncClient, authorize_url: str) -> str:
    """Consent in the sandbox and follow TikTok's redirect to ZakiPost's callback; the
    ``tiktok_account_id`` ZakiPost sends the user back with."""
    result = await consent(client, authorize_url)
    back = await client.get(result.location, follow_redirects=False)
    assert back.status_code == 303, back.text
    location = back.headers["location"]
    assert location.startswith(CALLBACK_TARGET)
    return parse_qs(urlsplit(location).query)["tiktok_account_id"][0]


async def call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """An SDK call, from a thread: the served app keeps running on this loop meanwhile."""
    return await asyncio.to_thread(function, *args, **kwargs)
