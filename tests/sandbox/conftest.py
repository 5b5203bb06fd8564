"""Sandbox fixtures: every test runs in process (ASGITransport) and over a real socket (uvicorn).

Both modes share the session's event loop; the sandbox, the helper (media origin + webhook
receiver) and uvicorn all live in it. Tests talk to the sandbox over HTTP only (TikTok's
endpoints and `/_sandbox/` controls), so both modes exercise exactly the same path.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from zakipost.sandbox import ManualClock, SandboxConfig, create_sandbox_app

from .driver import Driver
from .helper import Helper

MODES = ["asgi", "socket"]


def make_config(helper_base: str) -> SandboxConfig:
    return SandboxConfig(
        progression="immediate",
        seed=20261102,
        allow_http_pull=True,
        verified_url_prefixes=[f"{helper_base}/media/"],
        webhook_url=f"{helper_base}/hooks",
        # The helper receives webhooks on loopback (or on a name only the transport knows).
        webhook_allow_private_networks=True,
        webhook_retry_base_seconds=0.001,
        webhook_max_attempts=4,
    )


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 at a free port inside the running loop; yields its base URL."""
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    config = uvicorn.Config(app, lifespan="off", ws="none", log_level="critical", access_log=False)
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    # startup/main_loop/shutdown rather than serve(): serve() would take over SIGINT.
    await server.startup(sockets=[sock])
    task = asyncio.get_running_loop().create_task(server.main_loop())
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        await server.shutdown(sockets=[sock])


@dataclass
class Env:
    mode: str
    driver: Driver
    helper: Helper
    clock: ManualClock


@pytest.fixture(scope="session", params=MODES)
async def sandbox_env(request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    mode: str = request.param
    helper = Helper()
    helper_app = helper.build_app()
    clock = ManualClock()
    async with contextlib.AsyncExitStack() as stack:
        if mode == "asgi":
            helper_base = "http://helper.test"

            def factory() -> httpx.AsyncClient:
                return httpx.AsyncClient(transport=httpx.ASGITransport(helper_app))

            config = make_config(helper_base)
            app = create_sandbox_app(config, clock=clock, http_client_factory=factory)
            transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app)
            base = "http://sandbox.test"
        else:
            helper_base = await stack.enter_async_context(serve(helper_app))
            config = make_config(helper_base)
            app = create_sandbox_app(config, clock=clock)
            base = await stack.enter_async_context(serve(app))
            transport = httpx.AsyncHTTPTransport()
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url=base, timeout=30.0)
        )
        yield Env(mode, Driver(http, config, helper, helper_base, mode), helper, clock)


@pytest.fixture
async def tt(sandbox_env: Env) -> AsyncIterator[Driver]:
    """The sandbox, freshly reset, driven over HTTP (`tt.http` is the raw httpx client)."""
    sandbox_env.helper.reset()
    await sandbox_env.driver.control("POST", "reset")
    yield sandbox_env.driver
    await sandbox_env.driver.control("POST", "settle", json={})


@pytest.fixture
async def sandbox_client(tt: Driver) -> httpx.AsyncClient:
    """A plain httpx client on a freshly reset sandbox (in process or over a socket)."""
    return tt.http


@pytest.fixture
def mode(sandbox_env: Env) -> str:
    return sandbox_env.mode


@pytest.fixture
def in_process_only(sandbox_env: Env) -> None:
    if sandbox_env.mode != "asgi":
        pytest.skip("needs byte-level control a real HTTP server does not allow")
