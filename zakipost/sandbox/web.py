"""Helpers shared by the HTTP layers: envelopes, bodies, auth, and URLs under any mount."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .accounts import Auth
from .errors import ApiError, InvalidParams, OAuthError, envelope, oauth_body
from .state import Sandbox

MAX_JSON_BODY = 1 << 20


def sandbox_of(request: Request) -> Sandbox:
    sb: Sandbox = request.app.state.sandbox
    return sb


def base_url(request: Request) -> str:
    """This app's own root URL, ending in "/", whether served alone or mounted (root_path)."""
    root = request.scope.get("root_path", "")
    url = request.url.replace(path=root.rstrip("/") + "/", query="", fragment="")
    return str(url)


def ok(sb: Sandbox, data: dict[str, Any] | None) -> JSONResponse:
    return JSONResponse(envelope("ok", "", sb.log_id(), data))


def api_error_response(sb: Sandbox, err: ApiError) -> JSONResponse:
    status = err.status
    if sb.config.error_http_status == "always_200" and status < 500:
        status = 200
    return JSONResponse(envelope(err.code, err.message, sb.log_id(), {}), status_code=status)


def oauth_error_response(sb: Sandbox, err: OAuthError) -> JSONResponse:
    status = sb.config.oauth_error_status
    return JSONResponse(oauth_body(err.error, err.description, sb.log_id()), status_code=status)


async def read_body(request: Request, limit: int = MAX_JSON_BODY) -> bytes:
    chunks: list[bytes] = []
    total = 0
    async for piece in request.stream():
        total += len(piece)
        if total > limit:
            raise InvalidParams("The request body is too large")
        chunks.append(piece)
    return b"".join(chunks)


async def json_body(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await read_body(request)
    if not raw.strip():
        if allow_empty:
            return {}
        raise InvalidParams("The request body is empty")
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidParams("The request body is not valid JSON") from exc
    if not isinstance(value, dict):
        raise InvalidParams("The request body must be a JSON object")
    return value


def authenticate(request: Request, endpoint: str, scopes: tuple[str, ...] | None = None) -> Auth:
    """Bearer token -> caller; then the scope check (any of `scopes`), then the rate limit."""
    sb = sandbox_of(request)
    auth = sb.accounts.authenticate(request.headers.get("authorization"), endpoint)
    if scopes is not None and not any(s in auth.grant.scopes for s in scopes):
        raise ApiError("scope_not_authorized")
    sb.rate_limiter.check(sb.config, endpoint, auth.token.token, sb.clock.now())
    return auth
