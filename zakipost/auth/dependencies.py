"""API authentication: the fixed pair in two headers, or a named key as a bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import make_transient_to_detached
from starlette.datastructures import Headers, State
from starlette.types import ASGIApp, Receive, Scope, Send

from zakipost.api_key import service as api_key_service
from zakipost.billing.plans import require_api_access
from zakipost.config import Settings
from zakipost.error_handlers import render_for
from zakipost.errors import Unauthorized
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import digest_matches
from zakipost.models import Account

KEY_HEADER = "X-ZakiPost-Client-Key"
SECRET_HEADER = "X-ZakiPost-Client-Secret"  # noqa: S105 (a header name)


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


_INVALID = (
    "Invalid API credentials: send X-ZakiPost-Client-Key and X-ZakiPost-Client-Secret, "
    "both copied whole, with no extra spaces."
)


def _invalid(message: str = _INVALID) -> InvalidCredentials:
    return InvalidCredentials(message, headers={"WWW-Authenticate": 'Bearer realm="zakipost"'})


_ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]
# Built once and read as plain columns on a connection, without an ORM session: every API
# request runs it, and a session with an entity load cost several times the query itself.
_BY_CLIENT_KEY = select(_ACCOUNTS).where(_ACCOUNTS.c.client_key == bindparam("client_key"))


async def _account_from_pair(connection: AsyncConnection, key: str, secret: str) -> Account:
    if key != key.strip() or secret != secret.strip():
        raise _invalid(
            "Invalid API credentials: a key has leading or trailing spaces; "
            "copy both keys whole, without extra spaces."
        )
    row = await connection.run_sync(
        lambda sync: sync.execute(_BY_CLIENT_KEY, {"client_key": key}).first()
    )
    # Compare even when the key is unknown, so timing says nothing about which keys exist.
    expected = row.client_secret_hash if row is not None else "0" * 64
    if not digest_matches(secret, expected) or row is None:
        raise _invalid()
    # Detached, as an account loaded by a session that has closed: callers read it; code
    # that changes an account loads it in its own session.
    account = Account(**row._mapping)
    make_transient_to_detached(account)
    return account


async def resolve_account(state: State, headers: Headers) -> Account:
    """The account the request's credentials name, or :class:`InvalidCredentials`. Read on a
    short read-only connection of its own that is returned before the endpoint runs: a
    request never holds two pooled connections at once (with a request-long session it
    would, and a burst of requests could exhaust the pool with each waiting for its second
    connection)."""
    key = headers.get(KEY_HEADER)
    secret = headers.get(SECRET_HEADER)
    if key is not None or secret is not None:
        if not key or not secret:
            raise _invalid()
        async with state.read_sessionmaker.kw["bind"].connect() as connection:
            return await _account_from_pair(connection, key, secret)
    async with state.read_sessionmaker() as session:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _invalid()
        named = await api_key_service.resolve(session, token.strip())
        if named is None or token != token.strip():
            raise _invalid()
        account = await session.get(Account, named.account_id)
    if account is None:
        raise _invalid()
    await api_key_service.touch(state.sessionmaker, named)
    return account


async def authenticated_account(request: Request) -> Account:
    """The calling account, or 401; resolved by :class:`AuthenticateFirst` before the body
    was read when the request has one."""
    resolved: Account | None = request.scope.get("state", {}).get(_RESOLVED)
    if resolved is not None:
        return resolved
    return await resolve_account(request.app.state, request.headers)


class AuthenticateFirst:
    """Resolves the API credentials of ``/v1`` (and ``/compat``) requests that carry a body
    before the body is read, so an unauthenticated request is refused (401) without its body costing
    anything; the endpoint's dependency then reuses the account."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or not scope["path"].startswith(_API_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        try:
            account = await resolve_account(scope["app"].state, Headers(scope=scope))
        except InvalidCredentials as exc:
            response = render_for(
                scope["app"].state,
                scope["path"],
                exc.status_code,
                exc.code,
                exc.message,
                exc.details,
                {**(exc.headers or {}), "Connection": "close"},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[_RESOLVED] = account
        await self.app(scope, receive, send)


_RESOLVED = "zakipost.api_account"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The compatibility surfaces (zakipost.compat) authenticate with the same keys.
_API_PREFIXES = ("/v1/", "/compat/")


async def api_account(request: Request) -> Account:
    """The calling account, once its plan is checked: 401, then 403. One dependency
    (FastAPI's dependency solving is a measurable share of a publish)."""
    account = await authenticated_account(request)
    settings: Settings = request.app.state.settings
    require_api_access(settings, account.plan, account.plan_expires_at, utcnow())
    return account


ApiAccount = Annotated[Account, Depends(api_account)]
