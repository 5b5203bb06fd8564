"""API authentication: the fixed pair in two headers, or a named key as a bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.api_key import service as api_key_service
from zakipost.billing.plans import require_api_access
from zakipost.dependencies import SettingsDep
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


async def _account_from_pair(session: AsyncSession, key: str, secret: str) -> Account:
    if key != key.strip() or secret != secret.strip():
        raise _invalid(
            "Invalid API credentials: a key has leading or trailing spaces; "
            "copy both keys whole, without extra spaces."
        )
    account = (await session.scalars(select(Account).where(Account.client_key == key))).first()
    # Compare even when the key is unknown, so timing says nothing about which keys exist.
    expected = account.client_secret_hash if account else "0" * 64
    if not digest_matches(secret, expected) or account is None:
        raise _invalid()
    return account


async def authenticated_account(request: Request) -> Account:
    """The calling account, or 401. Read in a short read-only session of its own that is
    closed before the endpoint runs: a request never holds two pooled connections at once
    (with a request-long session it would, and a burst of requests could exhaust the pool
    with each waiting for its second connection)."""
    key = request.headers.get(KEY_HEADER)
    secret = request.headers.get(SECRET_HEADER)
    async with request.app.state.read_sessionmaker() as session:
        if key is not None or secret is not None:
            if not key or not secret:
                raise _invalid()
            return await _account_from_pair(session, key, secret)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _invalid()
        named = await api_key_service.resolve(session, token.strip())
        if named is None or token != token.strip():
            raise _invalid()
        account = await session.get(Account, named.account_id)
    if account is None:
        raise _invalid()
    await api_key_service.touch(request.app.state.sessionmaker, named)
    return account


async def api_account(
    account: Annotated[Account, Depends(authenticated_account)], settings: SettingsDep
) -> Account:
    """The calling account, once its plan is checked: 401, then 403."""
    require_api_access(settings, account.plan, account.plan_expires_at, utcnow())
    return account


ApiAccount = Annotated[Account, Depends(api_account)]
