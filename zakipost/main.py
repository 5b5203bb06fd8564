"""The web app: routers, middlewares and a lifespan over the composition root's objects."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from zakipost import __version__
from zakipost.api import router as api_router
from zakipost.auth.dependencies import AuthenticateFirst
from zakipost.body_limit import BodyLimitMiddleware, limits_from
from zakipost.composition import Components, build_components
from zakipost.config import Settings
from zakipost.connection.endpoints import callback_router
from zakipost.dashboard import routes as dashboard
from zakipost.error_handlers import install_error_handlers
from zakipost.health import router as health_router
from zakipost.plain_text import refuse_unsafe_parameters
from zakipost.runtime import build_worker
from zakipost.storage.endpoints import router as media_router
from zakipost.tiktok_webhook.endpoints import router as tiktok_webhook_router


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    mount_sandbox: bool | None = None,
    tiktok_transport: httpx.AsyncBaseTransport | None = None,
    run_worker: bool = False,
    components: Components | None = None,
) -> FastAPI:
    """Build the web app over ``components`` (built from the other arguments when not
    given; see :func:`zakipost.composition.build_components`). With ``run_worker`` the
    lifespan also runs a worker on the same objects."""
    if components is not None and components.settings is not settings:
        raise ValueError("create_app: the components were built for other settings")
    parts = components or build_components(
        settings, engine=engine, mount_sandbox=mount_sandbox, tiktok_transport=tiktok_transport
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            deps = await stack.enter_async_context(parts.open())
            app.state.deps = deps
            app.state.tiktok = deps.tiktok
            app.state.token_vault = deps.tokens
            app.state.worker = None
            if run_worker:
                app.state.worker = build_worker(deps)
                await app.state.worker.start()
                stack.push_async_callback(
                    app.state.worker.stop, parts.settings.worker.grace_seconds
                )
            yield

    app = FastAPI(
        title="ZakiPost",
        version=__version__,
        summary="Publish to TikTok from anything that can send an HTTP request.",
        lifespan=lifespan,
        dependencies=[Depends(refuse_unsafe_parameters)],
    )
    parts.web_app = app
    app.state.components = parts
    app.state.settings = parts.settings
    app.state.engine = parts.engine
    app.state.sessionmaker = parts.sessionmaker
    app.state.read_sessionmaker = parts.read_sessionmaker
    app.state.vault = parts.vault
    app.state.media_store = parts.store
    app.state.run_worker = run_worker
    app.state.sandbox_app = parts.sandbox_app
    app.state.tiktok_client_key, app.state.tiktok_client_secret = parts.credentials

    install_error_handlers(app)
    # Outermost last: the body's size is checked first, then /v1 credentials, both before
    # anything reads the body.
    app.add_middleware(AuthenticateFirst)
    app.add_middleware(BodyLimitMiddleware, limit_for=limits_from(parts.settings))
    app.include_router(health_router)
    app.include_router(api_router)
    app.include_router(callback_router)
    app.include_router(tiktok_webhook_router)
    app.include_router(media_router)
    dashboard.install(app)
    app.add_api_route("/", _root_page, methods=["GET"], include_in_schema=False)
    if parts.sandbox_app is not None:
        app.mount("/sandbox", parts.sandbox_app)
    return app


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
 (mounted when no TikTok app is configured; from this machine only, never in production).</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>.</li>
</ul></main></body></html>"""
    )
