"""Idempotency keys: the same key and body within 24 hours replay the first answer."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.errors import ValidationFailed
from zakipost.kit.clock import utcnow
from zakipost.models import IdempotencyKey
from zakipost.post.errors import IdempotencyKeyReused

KEY_LIFETIME = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters (a UUID is ideal)."
        )
    return key


async def replay(
    session: AsyncSession, account_id: uuid.UUID, key: str, fingerprint: str
) -> tuple[int, dict[str, Any]] | None:
    """The stored answer for this key, None if the key is new, 409 if the body differs."""
    row = (
        await session.scalars(
            select(IdempotencyKey).where(
                IdempotencyKey.account_id == account_id,
                IdempotencyKey.key == key,
                IdempotencyKey.expires_at > utcnow(),
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body; "
            "use a new key for a new request."
        )
    return row.response_status, row.response_body


async def remember(
    session: AsyncSession,
    account_id: uuid.UUID,
    key: str,
    fingerprint: str,
    status: int,
    body: dict[str, Any],
) -> None:
    # An expired row with the same key is replaced.
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.account_id == account_id,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at <= utcnow(),
        )
    )
    session.add(
        IdempotencyKey(
            account_id=account_id,
            key=key,
            request_hash=fingerprint,
            response_status=status,
            response_body=body,
            expires_at=utcnow() + KEY_LIFETIME,
        )
    )
    await session.flush()


async def complete(
    session: AsyncSession, account_id: uuid.UUID, key: str, status: int, body: dict[str, Any]
) -> None:
    row = (
        await session.scalars(
            select(IdempotencyKey).where(
                IdempotencyKey.account_id == account_id, IdempotencyKey.key == key
            )
        )
    ).one()
    row.response_status = status
    row.response_body = body
    await session.flush()


async def once(
    session: AsyncSession,
    account_id: uuid.UUID,
    key: str | None,
    path: str,
    fingerprint_body: dict[str, Any] | Callable[[], dict[str, Any]],
    accept: Callable[[], Awaitable[dict[str, Any]]],
) -> tuple[int, dict[str, Any], bool]:
    """Run ``accept`` once per key: ``(status, body, replayed)``. Without a key it just
    runs; a key seen with the same body replays the first answer. ``fingerprint_body``
    is the body the key is bound to, or what gives it (called only when there is a key)."""
    if key is None:
        return 200, await accept(), False
    key = check_key(key)
    bound = fingerprint_body() if callable(fingerprint_body) else fingerprint_body
    fingerprint = request_hash("POST", path, bound)
    stored = await replay(session, account_id, key, fingerprint)
    if stored is not None:
        return stored[0], stored[1], True
    try:
        # The key row goes in first, so a concurrent twin waits on it and then replays.
        await remember(session, account_id, key, fingerprint, 0, {})
    except IntegrityError:
        await session.rollback()
        stored = await replay(session, account_id, key, fingerprint)
        if stored is None or stored[0] == 0:
            raise
        return stored[0], stored[1], True
    body = await accept()
    await complete(session, account_id, key, 200, body)
    return 200, body, False
