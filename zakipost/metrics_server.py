"""Serving ``/metrics``: a route of the web app, and a small listener of its own for a
standalone worker (``ZAKIPOST_WORKER_METRICS_PORT``). Both answer the same way: 404 when
metrics are off, 401 without the bearer token when ``ZAKIPOST_METRICS_TOKEN`` is set."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import uvicorn
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import Route

from zakipost import metrics
from zakipost.config import Settings
from zakipost.error_handlers import error_body
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import digest, digest_matches
from zakipost.logging import get_logger, register_secret

log = get_logger(__name__)

router = APIRouter(tags=["health"])

Clock = Callable[[], dt.datetime]


def _refusal(settings: Settings, authorization: str | None) -> JSONResponse | None:
    if not settings.metrics_enabled:
        return JSONResponse(error_body("not_found", "Not Found"), status_code=404)
    token = settings.metrics.token.get_secret_value()
    if not token:
        return None
    register_secret(token)
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and given and digest_matches(given.strip(), digest(token)):
        return None
    return JSONResponse(
        error_body(
            "unauthorized",
            "Metrics need the bearer token: send Authorization: Bearer <ZAKIPOST_METRICS_TOKEN>.",
        ),
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
    )


async def scrape(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    authorization: str | None,
    clock: Clock = utcnow,
) -> Response:
    """The answer to one scrape: the exposition, or why not."""
    refused = _refusal(settings, authorization)
    if refused is not None:
        return refused
    async with sessionmaker() as session:
        body = await metrics.render(session, clock())
    return Response(body, media_type=metrics.CONTENT_TYPE)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description=(
        "This process's counters and histograms and the database's gauges (posts by status "
        "and kind, open jobs by kind and state) in Prometheus' text format. Off in "
        "production unless ZAKIPOST_METRICS_ENABLED; with ZAKIPOST_METRICS_TOKEN set, send "
        "`Authorization: Bearer <token>`. See docs/observability.md."
    ),
    response_class=Response,
    responses={
        200: {"content": {metrics.CONTENT_TYPE: {}}, "description": "The exposition."},
        401: {"description": "The bearer token is missing or wrong."},
        404: {"description": "Metrics are off."},
    },
)
async def web_metrics(request: Request) -> Response:
    state = request.app.state
    clock: Clock = state.deps.clock if getattr(state, "deps", None) is not None else utcnow
    return await scrape(
        state.settings, state.read_sessionmaker, request.headers.get("authorization"), clock
    )


class _EmbeddedServer(uvicorn.Server):
    # The worker handles SIGTERM/SIGINT itself (graceful stop); uvicorn must not take them.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def worker_metrics_app(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock = utcnow
) -> Starlette:
    """The worker's listener: ``/metrics`` and nothing else."""

    async def endpoint(request: Request) -> Response:
        return await scrape(settings, sessionmaker, request.headers.get("authorization"), clock)

    return Starlette(routes=[Route("/metrics", endpoint, methods=["GET"])])


@contextlib.asynccontextmanager
async def worker_listener(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock = utcnow
) -> AsyncIterator[int | None]:
    """Serve the worker's ``/metrics`` while the block runs; yields the port it listens on
    (None: ``ZAKIPOST_WORKER_METRICS_PORT`` is unset, nothing listens)."""
    port = settings.worker.metrics_port
    if port is None:
        yield None
        return
    config = uvicorn.Config(
        worker_metrics_app(settings, sessionmaker, clock),
        host=settings.worker.metrics_host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    # The socket is bound here, not by uvicorn: a port in use is an error this process
    # can report, where uvicorn would exit the whole process.
    host = settings.worker.metrics_host
    try:
        sock = socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        raise RuntimeError(
            f"the worker's metrics listener cannot listen on {host}:{port} "
            f"(ZAKIPOST_WORKER_METRICS_PORT): {exc.strerror}"
        ) from None
    bound = sock.getsockname()[1]
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    log.info("worker.metrics_listening", host=host, port=bound)
    try:
        yield int(bound)
    finally:
        server.should_exit = True
        await task
        sock.close()
