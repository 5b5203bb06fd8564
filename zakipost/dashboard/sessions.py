"""Dashboard sign-in: server-side sessions behind an HttpOnly, SameSite cookie, and CSRF
tokens on every form."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.config import Environment, Settings
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import digest
from zakipost.models import Account, DashboardSession

SESSION_COOKIE = "zp_session"
PRE_SESSION_CSRF_COOKIE = "zp_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_LIFETIME = dt.timedelta(days=14)


class SignInRequired(Exception):
    """The page needs a signed-in user; the handler redirects to the login page.

    ``expired``: the browser had a session cookie, but its session ended (expired, or closed
    from another browser by a password change)."""

    def __init__(self, next_path: str, *, expired: bool = False) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.expired = expired


class CsrfRejected(Exception):
    """A form arrived without the token this session issued."""


@dataclass(frozen=True, slots=True)
class DashboardUser:
    account: Account
    session_id: uuid.UUID
    csrf_token: str


def cookie_options(settings: Settings) -> dict[str, object]:
    return {
        "httponly": True,
        "samesite": "lax",
        # Secure in production and whenever the site is served over https; plain http is
        # only for development on this machine.
        "secure": settings.env is Environment.production
        or settings.public_url.startswith("https://"),
        "path": "/",
    }


async def open_session(session: AsyncSession, account: Account) -> tuple[str, DashboardSession]:
    token = secrets.token_urlsafe(32)
    row = DashboardSession(
        account_id=account.id,
        token_hash=digest(token),
        csrf_token=secrets.token_urlsafe(24),
        expires_at=utcnow() + SESSION_LIFETIME,
    )
    session.add(row)
    await session.flush()
    return token, row


async def close_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(delete(DashboardSession).where(DashboardSession.id == session_id))


async def close_other_sessions(
    session: AsyncSession, account_id: uuid.UUID, keep: uuid.UUID
) -> None:
    """Sign out every other browser (after a password change)."""
    await session.execute(
        delete(DashboardSession).where(
            DashboardSession.account_id == account_id, DashboardSession.id != keep
        )
    )


async def drop_expired_sessions(session: AsyncSession, account_id: uuid.UUID) -> None:
    """Ended sessions are useless; each sign-in clears its account's."""
    await session.execute(
        delete(DashboardSession).where(
            DashboardSession.account_id == account_id, DashboardSession.expires_at <= utcnow()
        )
    )


async def find_user(
    maker: async_sessionmaker[AsyncSession], token: str | None
) -> DashboardUser | None:
    if not token:
        return None
    async with maker() as session:
        row = (
            await session.execute(
                select(DashboardSession, Account)
                .join(Account, Account.id == DashboardSession.account_id)
                .where(
                    DashboardSession.token_hash == digest(token),
                    DashboardSession.expires_at > utcnow(),
                )
            )
        ).first()
    if row is None:
        return None
    dashboard_session, account = row
    return DashboardUser(account, dashboard_session.id, dashboard_session.csrf_token)


async def optional_user(request: Request) -> DashboardUser | None:
    user = await find_user(request.app.state.read_sessionmaker, request.cookies.get(SESSION_COOKIE))
    request.state.dashboard_account_id = user.account.id if user else None
    return user


async def required_user(request: Request) -> DashboardUser:
    user = await optional_user(request)
    if user is None:
        # After signing in, come back to the page asked for; a form post cannot be replayed.
        if request.method == "GET":
            query = request.url.query
            next_path = request.url.path + (f"?{query}" if query else "")
        else:
            next_path = "/dashboard"
        raise SignInRequired(next_path, expired=SESSION_COOKIE in request.cookies)
    return user


def check_csrf(expected: str | None, given: str | None) -> None:
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise CsrfRejected()


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    max_age = int(SESSION_LIFETIME.total_seconds())
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, **cookie_options(settings))  # type: ignore[arg-type]


async def form_user(
    user: Annotated[DashboardUser, Depends(required_user)], csrf_token: str = Form("")
) -> DashboardUser:
    """The signed-in user of a form post that carries this session's CSRF token."""
    check_csrf(user.csrf_token, csrf_token)
    return user


async def script_user(
    request: Request, user: Annotated[DashboardUser, Depends(required_user)]
) -> DashboardUser:
    """The signed-in user of a script's request that carries the token in a header."""
    check_csrf(user.csrf_token, request.headers.get(CSRF_HEADER))
    return user


OptionalUser = Annotated[DashboardUser | None, Depends(optional_user)]
CurrentUser = Annotated[DashboardUser, Depends(required_user)]
# For every state-changing request: signed in, and the CSRF token checked.
FormUser = Annotated[DashboardUser, Depends(form_user)]
ScriptUser = Annotated[DashboardUser, Depends(script_user)]
