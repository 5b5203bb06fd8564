"""Request bodies over a size limit are refused with 413 before the app reads them.

A declared ``Content-Length`` over the limit is answered at once, without reading a byte and
without calling the app; a chunked body is counted as it streams, and the read that crosses
the limit raises :class:`BodyTooLarge` (a 413 ``HTTPException``, which FastAPI's body parser
lets through to the error handlers). Routes that stream media to disk keep their own limit
and are not capped here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zakipost.config import Settings
from zakipost.error_handlers import error_body

LimitFor = Callable[[str, str], int | None]
"""``(method, path) -> bytes``, or ``None`` for a route that enforces its own limit."""

# Uploads stream to disk under storage.max_upload_bytes (the sandbox's upload URL under the
# upload chunk rules): the media routes are not capped by this limit.
_STREAMED_UPLOADS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("POST", re.compile(r"/v1/media/?")),
    ("POST", re.compile(r"/compat/zernio/api/v1/media/?")),
    ("PUT", re.compile(r"/v1/media/uploads/[^/]+/?")),
    ("POST", re.compile(r"/dashboard/media/?")),
    ("PUT", re.compile(r"/sandbox/upload/?")),
)


def limits_from(settings: Settings) -> LimitFor:
    """The limit of each route family: dashboard forms, media uploads (none here), the rest."""
    json_limit = settings.server.max_body_bytes
    form_limit = settings.server.max_form_bytes

    def limit_for(method: str, path: str) -> int | None:
        if any(method == m and pattern.fullmatch(path) for m, pattern in _STREAMED_UPLOADS):
            return None
        if path == "/dashboard" or path.startswith("/dashboard/"):
            return form_limit
        return json_limit

    return limit_for


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"The request body is larger than this server accepts here ({limit:,} bytes).",
            headers={"Connection": "close"},
        )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit_for: LimitFor) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(BodyTooLarge(limit), scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            # Read outside FastAPI's body parser (a plain Starlette route): answer it here.
            if started:
                raise
            await _refuse(exc, scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(exc: BodyTooLarge, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(
        error_body("payload_too_large", str(exc.detail)), status_code=413, headers=exc.headers
    )
    await response(scope, receive, send)
