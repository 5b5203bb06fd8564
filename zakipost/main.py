"""The web app: routers, middlewares and a lifespan over the composition root's objects."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from zakipost import __version__
from zakipost.api import router as api_router
from zakipost.auth.dependencies import AuthenticateFirst
from zakipost.body_limit import BodyLimitMiddleware, limits_from
from zakipost.compat import ERROR_SHAPES as COMPAT_ERROR_SHAPES
from zakipost.compat import router as compat_router
from zakipost.composition import Components, build_components
from zakipost.config import Settings
from zakipost.connection.endpoints import callback_router
from zakipost.dashboard import routes as dashboard
from zakipost.dashboard.landing import landing_page
from zakipost.docs import install_docs
from zakipost.error_handlers import install_error_handlers
from zakipost.health import router as health_router
from zakipost.metrics_server import router as metrics_router
from zakipost.plain_text import refuse_unsafe_parameters
from zakipost.request_id import RequestIdMiddleware
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
        # Served by zakipost.docs from local assets instead of a CDN.
        docs_url=None,
        redoc_url=None,
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
    # How webhook URLs are resolved when saved (tests: a fake DNS); None: the system's.
    app.state.webhook_resolver = None
    app.state.tiktok_client_key, app.state.tiktok_client_secret = parts.credentials

    install_error_handlers(app, COMPAT_ERROR_SHAPES)
    # Outermost last: the body's size is checked first, then /v1 credentials, both before
    # anything reads the body.
    app.add_middleware(AuthenticateFirst)
    app.add_middleware(BodyLimitMiddleware, limit_for=limits_from(parts.settings))
    # Outermost of all: every response, a refusal by the two above included, has its id.
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(api_router)
    app.include_router(callback_router)
    app.include_router(tiktok_webhook_router)
    app.include_router(media_router)
    app.include_router(compat_router)
    dashboard.install(app)
    install_docs(app)
    app.add_api_route("/", landing_page, methods=["GET"], include_in_schema=False)
    if parts.sandbox_app is not None:
        app.mount("/sandbox", parts.sandbox_app)
    return app
