"""Render every error in the public envelope: ``{"success": false, "message", "code", ...}``.

Paths with an error shape of their own (the compatibility surfaces, which answer in another
product's shape) register an :data:`ErrorShape` for their prefix; the error still passes
through the request's dependencies first, so a failed request's transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from zakipost import request_id as request_ids
from zakipost.errors import AppError
from zakipost.logging import get_logger

log = get_logger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


ErrorShape = Callable[[int, str, str, dict[str, Any], dict[str, str] | None], JSONResponse]
"""``(status, code, message, details, headers) -> response`` for one path prefix."""


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "message": message, "code": code}
    if details:
        body["details"] = details
    return body


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    fields = []
    for err in errors:
        field = _field_path(tuple(err.get("loc", ())))
        msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
        if err.get("type") == "missing":
            msg = "is required"
        elif err.get("type") == "extra_forbidden":
            msg = "is not a known field; remove it"
        elif err.get("type") == "json_invalid":
            field, msg = "body", "is not valid JSON"
        fields.append({"field": field, "message": msg})
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return f"Invalid request: {summary}", fields


def _envelope(
    status: int, code: str, message: str, details: dict[str, Any], headers: dict[str, str] | None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _render(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return render_for(request.app.state, request.url.path, status, code, message, details, headers)


def render_for(
    state: Any,
    path: str,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error answer for ``path``, in its prefix's shape or the public envelope
    (``state``: the app's state, where :func:`install_error_handlers` put the shapes)."""
    shapes: Sequence[tuple[str, ErrorShape]] = getattr(state, "error_shapes", ())
    for prefix, shape in shapes:
        if path == prefix or path.startswith(prefix + "/"):
            return shape(status, code, message, details or {}, headers or None)
    return _envelope(status, code, message, details or {}, headers or None)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return _render(request, exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    message, fields = _validation_message(list(exc.errors()))
    return _render(request, 422, "validation_error", message, {"fields": fields})


NOT_UTF8 = "is not valid JSON: it is not UTF-8 text"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI answers a JSON body it cannot decode with a bare 400; it is invalid JSON
        # like any other, so it gets the same 422 as a syntax error.
        fields = [{"field": "body", "message": NOT_UTF8}]
        return _render(
            request,
            422,
            "validation_error",
            f"Invalid request: body: {NOT_UTF8}",
            {"fields": fields},
        )
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return _render(
        request, exc.status_code, code, str(exc.detail), None, getattr(exc, "headers", None)
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette runs this outside every middleware: the request id comes from the state.
    request_id = request_ids.of(request)
    log.exception("unhandled_error", error_type=type(exc).__name__, request_id=request_id)
    return _render(
        request,
        500,
        "internal_error",
        "Something went wrong on our side; try again shortly.",
        headers={request_ids.HEADER: request_id} if request_id else None,
    )


def install_error_handlers(app: FastAPI, shapes: Sequence[tuple[str, ErrorShape]] = ()) -> None:
    """The handlers, and the error shapes of path prefixes that answer in a shape of
    their own (longest prefix first)."""
    app.state.error_shapes = sorted(shapes, key=lambda shape: -len(shape[0]))
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
