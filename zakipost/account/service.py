"""Accounts: creation with the fixed key pair, passwords, plans, key rotation."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.account.keys import new_client_key, new_client_secret, secret_context
from zakipost.billing import points
from zakipost.billing.plans import get_plan
from zakipost.config import Settings
from zakipost.errors import Conflict, NotFound, ValidationFailed
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import Vault, digest
from zakipost.kit.passwords import (
    hash_password_in_thread,
    verify_against_dummy_in_thread,
    verify_password_in_thread,
)
from zakipost.models import Account

MIN_PASSWORD_LENGTH = 8


class EmailTaken(Conflict):
    code = "email_taken"


class AccountNotFound(NotFound):
    code = "account_not_found"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The fixed pair, as the owner sees it. Never logged."""

    client_key: str
    client_secret: str

    def __repr__(self) -> str:
        return f"Credentials(client_key={self.client_key!r}, client_secret='***')"


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or len(value) > 320 or " " in value:
        raise ValidationFailed(
            f"{email!r} is not an email address.",
            details={"fields": [{"field": "email", "message": "is not an email address"}]},
        )
    return value


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            details={"fields": [{"field": "password", "message": "is too short"}]},
        )


@dataclass(frozen=True, slots=True)
class NewPassword:
    """A checked password, already hashed: made before the transaction that stores it."""

    hash: str

    def __repr__(self) -> str:
        return "NewPassword('***')"


async def new_password(password: str) -> NewPassword:
    """Check ``password`` and hash it off the event loop."""
    check_password(password)
    return NewPassword(await hash_password_in_thread(password))


@dataclass(frozen=True, slots=True)
class LoginCandidate:
    """The account an email names and its password hash, read before the password is
    checked (outside the transaction)."""

    account_id: uuid.UUID
    password_hash: str


async def create(
    session: AsyncSession,
    settings: Settings,
    vault: Vault,
    *,
    email: str,
    password: str | NewPassword,
    plan: str | None = None,
    points_grant: int = 0,
) -> tuple[Account, Credentials]:
    """Create an account with its fixed key pair; returns the pair once in the clear. Give
    a :class:`NewPassword` made before the transaction to keep the hash out of it (a plain
    password is hashed here, before the first query)."""
    normalized = normalize_email(email)
    hashed = password if isinstance(password, NewPassword) else await new_password(password)
    plan_name = get_plan(settings, plan or settings.billing.signup_plan).name
    if await get_by_email(session, normalized) is not None:
        raise EmailTaken(f"An account with the email {normalized} already exists.")
    account_id = uuid.uuid4()
    credentials = Credentials(new_client_key(), new_client_secret())
    account = Account(
        id=account_id,
        email=normalized,
        password_hash=hashed.hash,
        plan=plan_name,
        client_key=credentials.client_key,
        client_secret_hash=digest(credentials.client_secret),
        client_secret_encrypted=vault.seal(
            credentials.client_secret, context=secret_context(account_id)
        ),
    )
    session.add(account)
    try:
        await session.flush()
    except IntegrityError:
        raise EmailTaken(f"An account with the email {normalized} already exists.") from None
    if points_grant > 0:
        await points.grant(session, account.id, points_grant, reason="Initial points")
    return account, credentials


async def get(session: AsyncSession, account_id: uuid.UUID) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise AccountNotFound("No such account.")
    return account


async def get_by_email(session: AsyncSession, email: str) -> Account | None:
    result = await session.scalars(select(Account).where(Account.email == email.strip().lower()))
    return result.first()


async def find(session: AsyncSession, ref: str) -> Account:
    """An account by email or id (operators' commands take either)."""
    account: Account | None
    try:
        account = await session.get(Account, uuid.UUID(ref))
    except ValueError:
        account = await get_by_email(session, ref)
    if account is None:
        raise AccountNotFound(f"No account {ref!r}.")
    return account


async def list_all(
    session: AsyncSession, *, limit: int = 100, offset: int = 0
) -> Sequence[Account]:
    result = await session.scalars(
        select(Account).order_by(Account.created_at).limit(limit).offset(offset)
    )
    return result.all()


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Account)) or 0)


async def login_candidate(session: AsyncSession, email: str) -> LoginCandidate | None:
    """Who a log-in for ``email`` would be, if anyone (no password checked yet)."""
    try:
        account = await get_by_email(session, normalize_email(email))
    except ValidationFailed:
        return None
    return LoginCandidate(account.id, account.password_hash) if account else None


async def password_matches(candidate: LoginCandidate | None, password: str) -> bool:
    """Check ``password`` off the event loop. With no candidate, spend the same time as a
    real check and refuse, so timing does not reveal which emails exist."""
    if candidate is None:
        return await verify_against_dummy_in_thread(password)
    return await verify_password_in_thread(candidate.password_hash, password)


async def check_current_password(account: Account, current: str) -> None:
    """Call before the transaction of :func:`change_password` (the check is slow)."""
    if not await verify_password_in_thread(account.password_hash, current):
        raise _wrong_current_password()


async def change_password(
    session: AsyncSession, account_id: uuid.UUID, *, checked_hash: str, new: NewPassword
) -> Account:
    """Store ``new`` if the password is still the one :func:`check_current_password`
    checked (``checked_hash``); a change made in between wins."""
    account = await get(session, account_id)
    if account.password_hash != checked_hash:
        raise _wrong_current_password()
    account.password_hash = new.hash
    await session.flush()
    return account


def _wrong_current_password() -> ValidationFailed:
    return ValidationFailed(
        "The current password is wrong.",
        details={"fields": [{"field": "current_password", "message": "is wrong"}]},
    )


def reveal_credentials(vault: Vault, account: Account) -> Credentials:
    secret = vault.open(account.client_secret_encrypted, context=secret_context(account.id))
    return Credentials(account.client_key, secret)


async def rotate_credentials(session: AsyncSession, vault: Vault, account: Account) -> Credentials:
    """Replace the fixed pair on the owner's request; the old pair stops working at once."""
    credentials = Credentials(new_client_key(), new_client_secret())
    account.client_key = credentials.client_key
    account.client_secret_hash = digest(credentials.client_secret)
    account.client_secret_encrypted = vault.seal(
        credentials.client_secret, context=secret_context(account.id)
    )
    account.keys_rotated_at = utcnow()
    await session.flush()
    return credentials


async def set_plan(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    *,
    plan: str,
    expires_at: dt.datetime | None,
) -> Account:
    account.plan = get_plan(settings, plan).name
    account.plan_expires_at = expires_at
    await session.flush()
    return account
