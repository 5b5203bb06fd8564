"""Dashboard sign-in: server-side sessions behind an HttpOnly, SameSite cookie, and CSRF
tokens on every form."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.config import Environment, Settings
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import digest
from zakipost.models import Account, DashboardSession

SESSION_COOKIE = "zp_session"
PRE_SESSION_CSRF_COOKIE = "zp_csrf"
SESSION_LIFETIME = dt.timedelta(days=14)


class SignInRequired(Exception):
    """The page needs a signed-in user; the handler redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


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
        "secure": settings.env is Environment.production,
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
        raise SignInRequired(request.url.path)
    return user


def check_csrf(expected: str | None, given: str | None) -> None:
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise CsrfRejected()


OptionalUser = Annotated[DashboardUser | None, Depends(optional_user)]
CurrentUser = Annotated[DashboardUser, Depends(required_user)]
