"""The API client against the running app and its sandbox, as both clients: the async one
over the app's ASGI transport, the blocking one on a thread whose transport hands each
request to the app on the test's event loop. ``api(name, ...)`` calls either the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.client.served import Served, serve
from tests.connection.conftest import CALLBACK_TARGET
from tests.fixtures.app import AccountWithKeys, client_for
from tests.fixtures.consent import consent
from tests.fixtures.pipeline import settle
from zakipost.client import AsyncClient, Client
from zakipost.worker import Worker


class LoopTransport(httpx.BaseTransport):
    """A blocking transport for a client on another thread: each request runs on ``loop``
    through the app's ASGI transport."""

    def __init__(self, app: FastAPI, loop: asyncio.AbstractEventLoop) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def go() -> httpx.Response:
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            response = await self._asgi.handle_async_request(forwarded)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return asyncio.run_coroutine_threadsafe(go(), self._loop).result()


@dataclass
class Api:
    """One client kind, called the same way: ``await api.call("get_post", id)``."""

    kind: str
    client: Any
    make: Callable[..., Any]
    sleeps: list[float]

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.kind == "async":
            return await getattr(self.client, name)(*args, **kwargs)
        return await asyncio.to_thread(getattr(self.client, name), *args, **kwargs)

    async def other(self, name: str, *args: Any, _client: Any, **kwargs: Any) -> Any:
        if self.kind == "async":
            return await getattr(_client, name)(*args, **kwargs)
        return await asyncio.to_thread(getattr(_client, name), *args, **kwargs)


@pytest.fixture(params=["async", "sync"])
async def api(
    request: pytest.FixtureRequest,
    app: FastAPI,
    owner: AccountWithKeys,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Api]:
    """A client with the owner's key pair; its sleeps (retries, wait()) run the worker
    instead of waiting, so a post moves on between two reads."""
    loop = asyncio.get_running_loop()
    sleeps: list[float] = []
    base_url = app.state.settings.public_url
    made: list[Any] = []

    if request.param == "async":

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            await settle(worker, sessionmaker)

        def make(**credentials: Any) -> Any:
            client = AsyncClient(
                base_url, transport=httpx.ASGITransport(app=app), sleep=sleep, **credentials
            )
            made.append(client)
            return client

    else:

        def sync_sleep(seconds: float) -> None:
            sleeps.append(seconds)
            asyncio.run_coroutine_threadsafe(settle(worker, sessionmaker), loop).result()

        def make(**credentials: Any) -> Any:
            client = Client(
                base_url, transport=LoopTransport(app, loop), sleep=sync_sleep, **credentials
            )
            made.append(client)
            return client

    pair = {
        "client_key": owner.credentials.client_key,
        "client_secret": owner.credentials.client_secret,
    }
    yield Api(request.param, make(**pair), make, sleeps)
    for client in made:
        if isinstance(client, AsyncClient):
            await client.aclose()
        else:
            client.close()


async def connect_with(api: Api, app: FastAPI, client: Any = None) -> str:
    """Connect TikTok with the client's consent link, as the user's browser would; return
    the new tiktok_account_id."""
    started = await api.other("connect", CALLBACK_TARGET, _client=client or api.client)
    async with client_for(app) as browser:
        result = await consent(browser, started.authorize_url)
        back = await browser.get(result.location, follow_redirects=False)
    assert back.status_code == 303, back.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}
    return query["tiktok_account_id"]


Sleep = Callable[[float], Awaitable[None]]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A served app for the commands run in subprocesses (one per test module)."""
    yield from serve(tmp_path_factory)
