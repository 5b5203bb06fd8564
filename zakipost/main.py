"""Composition root: builds the web app, its database, its TikTok transport and the sandbox."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from zakipost import __version__
from zakipost.api import router as api_router
from zakipost.config import Settings
from zakipost.connection.endpoints import callback_router
from zakipost.connection.tokens import TokenVault
from zakipost.dashboard import routes as dashboard
from zakipost.db.engine import create_engine, create_read_sessionmaker, create_sessionmaker
from zakipost.error_handlers import install_error_handlers
from zakipost.health import router as health_router
from zakipost.kit.crypto import Vault, load_or_create_key_file, parse_master_keys
from zakipost.logging import get_logger, register_secret
from zakipost.storage.endpoints import router as media_router
from zakipost.tiktok import TikTokClient

log = get_logger(__name__)


class _OwnUrlsInProcess(httpx.AsyncBaseTransport):
    """Requests to this server's own public URL go through the app in process (no socket,
    and it works before the server listens); anything else goes out on the network."""

    def __init__(self, app: Any, public_url: str) -> None:
        self._local = httpx.ASGITransport(app=app)
        self._network = httpx.AsyncHTTPTransport()
        self._public = httpx.URL(public_url)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        own = (url.scheme, url.host, url.port) == (
            self._public.scheme,
            self._public.host,
            self._public.port,
        )
        return await (self._local if own else self._network).handle_async_request(request)

    async def aclose(self) -> None:
        await self._network.aclose()


def create_sandbox_for(settings: Settings, app: Any = None) -> Any:
    """The embedded TikTok sandbox, registered with this gateway's callback and media URLs."""
    from zakipost.sandbox import SandboxConfig, create_sandbox_app

    config = SandboxConfig.from_env()
    # An embedded sandbox keeps what it received in the data directory, and drops the media
    # bytes once checked (size and sha256 stay) so a long-running server does not fill the disk.
    if "ZAKIPOST_SANDBOX_STORAGE_DIR" not in os.environ:
        config.storage_dir = str(settings.data_dir / "sandbox")
    if "ZAKIPOST_SANDBOX_KEEP_MEDIA" not in os.environ:
        config.keep_media = False
    config.redirect_uris = [settings.tiktok_redirect_uri, *config.redirect_uris]
    config.verified_url_prefixes = [f"{settings.public_url}/media/", *config.verified_url_prefixes]
    config.allow_http_pull = True

    def pull_client() -> httpx.AsyncClient:
        # TikTok pulls photos (and verified videos) from this server's /media/ URLs.
        return httpx.AsyncClient(transport=_OwnUrlsInProcess(app, settings.public_url))

    return create_sandbox_app(config, http_client_factory=pull_client if app is not None else None)


def create_vault(settings: Settings) -> Vault:
    """Master keys from settings, or the embedded default: a 0600 key file in the data dir."""
    configured = settings.security.master_keys.get_secret_value()
    if configured:
        return Vault(parse_master_keys(configured))
    return Vault(load_or_create_key_file(settings.data_dir / "master.key"))


def tiktok_credentials(settings: Settings, sandbox_app: Any | None) -> tuple[str, str]:
    """The TikTok app's key and secret: the mounted sandbox's, a standalone sandbox's (its
    configuration from the same environment), or the configured TikTok app's."""
    if sandbox_app is not None:
        config = sandbox_app.state.sandbox.config
        return config.client_key, config.client_secret
    if settings.uses_sandbox:
        from zakipost.sandbox import SandboxConfig

        standalone = SandboxConfig.from_env()
        return standalone.client_key, standalone.client_secret
    return settings.tiktok.client_key, settings.tiktok.client_secret.get_secret_value()


def make_tiktok_client(
    settings: Settings, http: httpx.AsyncClient, credentials: tuple[str, str]
) -> TikTokClient:
    base = settings.tiktok.upload_retry_base_seconds
    return TikTokClient(
        http,
        client_key=credentials[0],
        client_secret=credentials[1],
        api_base_url=settings.tiktok_api_base_url,
        auth_base_url=settings.tiktok_auth_base_url,
        upload_retry_delays=tuple(base * 2**n for n in range(5)),
    )


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    mount_sandbox: bool | None = None,
    tiktok_transport: httpx.AsyncBaseTransport | None = None,
    run_worker: bool = False,
) -> FastAPI:
    """Build the web app. ``mount_sandbox`` defaults to "when no TikTok app is configured"."""
    if mount_sandbox is None:
        # With no TikTok app, embed the sandbox, unless a standalone one is configured.
        mount_sandbox = settings.uses_sandbox and not settings.tiktok.sandbox_url
    owns_engine = engine is None
    db_engine = engine or create_engine(
        settings.database_url, pool_size=settings.database.pool_size, echo=settings.database.echo
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            app.state.tiktok_http = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=tiktok_transport or _tiktok_transport(app),
                    timeout=settings.tiktok.request_timeout_seconds,
                )
            )
            app.state.tiktok = make_tiktok_client(
                settings,
                app.state.tiktok_http,
                (app.state.tiktok_client_key, app.state.tiktok_client_secret),
            )
            app.state.token_vault = TokenVault(
                app.state.sessionmaker, app.state.vault, app.state.tiktok
            )
            app.state.worker = None
            if run_worker:
                from zakipost.runtime import build_worker, pipeline_deps

                deps = pipeline_deps(
                    settings, app.state.sessionmaker, app.state.vault, app.state.tiktok
                )
                deps.tokens = app.state.token_vault
                app.state.worker = build_worker(deps)
                await app.state.worker.start()
                stack.push_async_callback(app.state.worker.stop, settings.worker.grace_seconds)
            yield
        if owns_engine:
            await db_engine.dispose()

    app = FastAPI(
        title="ZakiPost",
        version=__version__,
        summary="Publish to TikTok from anything that can send an HTTP request.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = db_engine
    app.state.sessionmaker = create_sessionmaker(db_engine)
    app.state.read_sessionmaker = create_read_sessionmaker(db_engine)
    app.state.vault = create_vault(settings)
    app.state.run_worker = run_worker
    app.state.sandbox_app = create_sandbox_for(settings, app) if mount_sandbox else None
    key, secret = tiktok_credentials(settings, app.state.sandbox_app)
    app.state.tiktok_client_key, app.state.tiktok_client_secret = key, secret
    register_secret(secret)

    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(api_router)
    app.include_router(callback_router)
    app.include_router(media_router)
    dashboard.install(app)
    app.add_api_route("/", _root_page, methods=["GET"], include_in_schema=False)
    if app.state.sandbox_app is not None:
        app.mount("/sandbox", app.state.sandbox_app)
    return app


def _tiktok_transport(app: FastAPI) -> httpx.AsyncBaseTransport:
    # With the sandbox mounted, TikTok calls go through this very app in process, so the
    # sandbox builds its URLs (upload_url, consent page) under /sandbox exactly as a browser
    # or a standalone worker sees them.
    if app.state.sandbox_app is not None:
        return httpx.ASGITransport(app=app)
    return httpx.AsyncHTTPTransport(retries=0)


async def _root_page() -> HTMLResponse:
    return HTMLResponse(
        """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>ZakiPost</title></head>
<body><main><h1>ZakiPost</h1>
<p>Publish to TikTok from anything that can send an HTTP request.</p>
<ul>
<li><a href="/dashboard">Dashboard</a>: sign up, API keys, Connect TikTok, compose.</li>
<li><a href="/docs">API reference</a> (OpenAPI: <a href="/openapi.json">/openapi.json</a>).</li>
<li><a href="/sandbox/_sandbox/posts">TikTok sandbox</a>: what the embedded TikTok received
 (mounted when no TikTok app is configured).</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>.</li>
</ul></main></body></html>"""
    )
