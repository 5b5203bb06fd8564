"""A request id for every HTTP request: taken from ``X-Request-Id`` when it is a sane value,
generated otherwise, bound to every log line of the request and returned on every response
(errors included).

The id is kept in ``scope["state"]`` too, so the handler of an unexpected error (which
Starlette runs outside every middleware) can still return and log it.
"""

from __future__ import annotations

import re
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-Id"
# Letters, digits and a few separators, as request ids from proxies and clients are (UUIDs,
# hex, ULIDs, "req_..."): nothing that could forge a log line or carry a payload.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=/-]{0,127}")


def sane(value: str | None) -> str | None:
    """``value`` if it can be used as a request id as it is."""
    return value if value is not None and _SANE.fullmatch(value) else None


def new_request_id() -> str:
    return uuid.uuid4().hex


def current() -> str | None:
    """The id of the request this code runs for, if any (e.g. to carry it into a job)."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


def of(request: Request) -> str | None:
    """The request id kept in the request's state."""
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


class RequestIdMiddleware:
    """Outermost middleware: chooses the id, binds it for the request's log lines, and adds
    it to the response's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = sane(given) or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)
