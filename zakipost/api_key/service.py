"""Named API keys: created (shown once), listed by prefix, revoked."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.account.keys import new_named_key
from zakipost.errors import NotFound, ValidationFailed
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import digest
from zakipost.models import ApiKey

PREFIX_LENGTH = 12


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


async def create(session: AsyncSession, account_id: uuid.UUID, *, name: str) -> tuple[ApiKey, str]:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed(
            "A key needs a name of 1 to 100 characters (for example 'production').",
            details={"fields": [{"field": "name", "message": "must be 1 to 100 characters"}]},
        )
    value = new_named_key()
    key = ApiKey(
        account_id=account_id, name=name, prefix=value[:PREFIX_LENGTH], key_hash=digest(value)
    )
    session.add(key)
    await session.flush()
    return key, value


async def list_for(session: AsyncSession, account_id: uuid.UUID) -> Sequence[ApiKey]:
    result = await session.scalars(
        select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.created_at)
    )
    return result.all()


async def revoke(session: AsyncSession, account_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None or key.account_id != account_id:
        raise ApiKeyNotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
    return key


async def resolve(session: AsyncSession, value: str) -> ApiKey | None:
    """The live key with this value, if any (lookup by digest; values are random)."""
    result = await session.scalars(
        select(ApiKey).where(ApiKey.key_hash == digest(value), ApiKey.revoked_at.is_(None))
    )
    return result.first()


async def touch(sessionmaker: async_sessionmaker[AsyncSession], key: ApiKey) -> None:
    """Record use, at most once a minute (a write on every request would serialize them)."""
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < dt.timedelta(minutes=1):
        return
    async with sessionmaker() as session, session.begin():
        await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
