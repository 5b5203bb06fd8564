"""`create_sandbox_app()`: the ASGI app, served alone at `/` or mounted (e.g. at `/sandbox`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import content_posting, display, oauth, upload
from .access import ControlAccess
from .clock import Clock, as_clock
from .config import SandboxConfig
from .control import public_routes as control_public_routes
from .control import routes as control_routes
from .errors import ApiError, OAuthError, envelope, oauth_body
from .faults import FaultMiddleware, route_path
from .state import HttpClientFactory, Sandbox, WebhookUrlCheck
from .web import api_error_response, oauth_error_response, sandbox_of

log = logging.getLogger("zakipost.sandbox")


class GuardMiddleware:
    """Ticks the clock-driven progression, and turns any crash into TikTok's 5xx envelope.

    Unexpected exceptions are logged here and never re-raised: a client of the sandbox sees
    what TikTok would send (`internal_error` / `server_error`), never a traceback.
    """

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sb = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.sb.tick()
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("sandbox request failed")
            if started:
                return
            log_id = self.sb.log_id()
            if route_path(scope).startswith("/v2/oauth/"):
                body = oauth_body(
                    "server_error", "Something went wrong. Please try again later.", log_id
                )
            else:
                body = envelope("internal_error", self.sb.message_for("internal_error"), log_id, {})
            await JSONResponse(body, status_code=500)(scope, receive, send)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return api_error_response(sandbox_of(request), exc)


async def _oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return oauth_error_response(sandbox_of(request), exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    sb = sandbox_of(request)
    path = route_path(request.scope)
    if path.startswith("/v2/oauth/"):
        return JSONResponse(
            oauth_body("invalid_request", exc.detail, sb.log_id()), status_code=exc.status_code
        )
    code = "invalid_params" if exc.status_code < 500 else "internal_error"
    return JSONResponse(envelope(code, exc.detail, sb.log_id(), {}), status_code=exc.status_code)


def create_sandbox_app(
    config: SandboxConfig | None = None,
    *,
    clock: Clock | Callable[[], datetime] | None = None,
    http_client_factory: HttpClientFactory | None = None,
    control: ControlAccess | None = ControlAccess(),
    webhook_url_check: WebhookUrlCheck | None = None,
    webhook_client_factory: HttpClientFactory | None = None,
) -> Starlette:
    """Build the emulator. `app.state.sandbox` is its `Sandbox` (state, control, `reset()`).

    `clock`: a `Clock` (`now()`, `advance()`) or a `() -> datetime` callable; system time if
    None. `http_client_factory`: returns a *new* `httpx.AsyncClient` (closed after use) for
    PULL_FROM_URL downloads and webhook deliveries, e.g. over an `ASGITransport` in tests.
    `control`: who may use the control API (`/_sandbox/`): by default loopback clients only;
    None leaves it out entirely (production). `webhook_url_check`: awaited with each webhook
    target (when set through the control API and before each delivery), raising `ValueError`
    to refuse it; by default loopback, private and other non-public addresses are refused
    unless `webhook_allow_private_networks` is set. `webhook_client_factory`: like
    `http_client_factory`, for webhook deliveries only (default: `http_client_factory`).
    """
    sandbox = Sandbox(
        config or SandboxConfig(),
        as_clock(clock),
        http_client_factory,
        webhook_url_check,
        webhook_client_factory,
    )
    app = Starlette(
        routes=[
            *oauth.routes,
            *display.routes,
            *content_posting.routes,
            *upload.routes,
            *control_public_routes,
            *(control_routes if control is not None else []),
        ],
        middleware=[
            Middleware(FaultMiddleware, sandbox=sandbox),
            Middleware(GuardMiddleware, sandbox=sandbox),
        ],
        exception_handlers={
            ApiError: _api_error,
            OAuthError: _oauth_error,
            HTTPException: _http_error,
        },
    )
    # TikTok's paths all end in "/"; a slash-less path is simply unknown, never redirected.
    app.router.redirect_slashes = False
    app.state.sandbox = sandbox
    app.state.sandbox_control = control
    return app
