"""The token vault: decrypts access tokens and refreshes them, one refresh at a time.

TikTok rotates refresh tokens and invalidates the previous one, so two refreshes of one
connection at once leave one caller with a dead token, and the connection with it. Refreshes
are therefore serialized twice: an asyncio lock per connection inside a process, and a short
lease in the ``connections`` row across processes. Tokens are written only by the lease
holder, and every write bumps ``token_generation`` so a caller that saw an older token knows
someone else already refreshed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.connection.errors import ConnectionNotFound, ConnectionRevoked, ReconnectRequired
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import Vault
from zakipost.logging import get_logger
from zakipost.models import Connection, ConnectionStatus
from zakipost.tiktok import AccessTokenInvalid, InvalidGrant, TikTokClient, TokenGrant

log = get_logger(__name__)
T = TypeVar("T")

REFRESH_MARGIN = dt.timedelta(minutes=10)
REFRESH_LEASE = dt.timedelta(seconds=45)
_WAIT_STEP_SECONDS = 0.05


def access_context(connection_id: uuid.UUID) -> str:
    return f"connections.access_token:{connection_id}"


def refresh_context(connection_id: uuid.UUID) -> str:
    return f"connections.refresh_token:{connection_id}"


def store_grant(vault: Vault, connection: Connection, grant: TokenGrant, now: dt.datetime) -> None:
    """Encrypt and keep a token grant; always the newly returned refresh token."""
    connection.access_token_encrypted = vault.seal(
        grant.access_token, context=access_context(connection.id)
    )
    connection.refresh_token_encrypted = vault.seal(
        grant.refresh_token, context=refresh_context(connection.id)
    )
    connection.access_expires_at = grant.access_token_expires_at(now)
    connection.refresh_expires_at = grant.refresh_token_expires_at(now)
    connection.last_refreshed_at = now
    connection.token_generation = (connection.token_generation or 0) + 1
    if grant.scopes:
        connection.scopes = list(grant.scopes)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    status: ConnectionStatus
    generation: int
    access_token_encrypted: str | None
    refresh_token_encrypted: str | None
    access_expires_at: dt.datetime | None


class TokenVault:
    """Gives callers a working access token for a connection, refreshing when needed."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        vault: Vault,
        tiktok: TikTokClient,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        owner: str | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._vault = vault
        self._tiktok = tiktok
        self._clock = clock
        self._owner = owner or f"vault-{uuid.uuid4().hex[:12]}"
        self._locks: weakref.WeakValueDictionary[uuid.UUID, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def __repr__(self) -> str:
        return f"TokenVault(owner={self._owner!r})"

    async def access_token(self, connection_id: uuid.UUID) -> str:
        """A token valid for at least a few more minutes."""
        snapshot = await self._snapshot(connection_id)
        expires = snapshot.access_expires_at
        if expires is not None and expires - self._clock() > REFRESH_MARGIN:
            return self._open_access(connection_id, snapshot)
        return await self.refresh(connection_id, seen_generation=snapshot.generation)

    async def call(self, connection_id: uuid.UUID, fn: Callable[[str], Awaitable[T]]) -> T:
        """Run ``fn(access_token)``; on ``access_token_invalid`` refresh once and retry."""
        snapshot = await self._snapshot(connection_id)
        token = await self.access_token(connection_id)
        try:
            return await fn(token)
        except AccessTokenInvalid:
            log.info("access_token_rejected", connection_id=str(connection_id))
            current = await self._snapshot(connection_id)
            seen = max(snapshot.generation, current.generation)
            if self._open_access(connection_id, current) != token:
                # Someone refreshed while we were calling; use theirs.
                return await fn(self._open_access(connection_id, current))
            token = await self.refresh(connection_id, seen_generation=seen, force=True)
            return await fn(token)

    async def refresh(
        self, connection_id: uuid.UUID, *, seen_generation: int | None = None, force: bool = False
    ) -> str:
        """Refresh at TikTok unless someone already did since ``seen_generation``."""
        lock = self._locks.get(connection_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[connection_id] = lock
        async with lock:
            while True:
                snapshot = await self._snapshot(connection_id)
                if seen_generation is not None and snapshot.generation != seen_generation:
                    return self._open_access(connection_id, snapshot)
                expires = snapshot.access_expires_at
                fresh = expires is not None and expires - self._clock() > REFRESH_MARGIN
                if fresh and not force and seen_generation is None:
                    return self._open_access(connection_id, snapshot)
                if await self._take_lease(connection_id, snapshot.generation):
                    break
                await asyncio.sleep(_WAIT_STEP_SECONDS)
            return await self._refresh_holding_lease(connection_id, snapshot)

    async def _refresh_holding_lease(self, connection_id: uuid.UUID, snapshot: _Snapshot) -> str:
        if snapshot.refresh_token_encrypted is None:
            await self._mark_reconnect(connection_id, "No refresh token is stored.")
            raise ReconnectRequired()
        refresh_token = self._vault.open(
            snapshot.refresh_token_encrypted, context=refresh_context(connection_id)
        )
        try:
            grant = await self._tiktok.refresh(refresh_token)
        except InvalidGrant as exc:
            newer = await self._newer_token(connection_id, snapshot.generation)
            if newer is not None:
                return newer
            await self._mark_reconnect(connection_id, f"TikTok refused the refresh: {exc.message}")
            log.warning("token_refresh_refused", connection_id=str(connection_id), error=exc.code)
            raise ReconnectRequired() from None
        except BaseException:
            await self._release_lease(connection_id)
            raise
        now = self._clock()
        async with self._sessionmaker() as session, session.begin():
            connection = await session.get(Connection, connection_id, with_for_update=True)
            if connection is None:
                raise ConnectionNotFound()
            if connection.token_generation != snapshot.generation:
                # Our lease ran out mid-call and another refresh already landed; keep theirs.
                log.warning("token_refresh_superseded", connection_id=str(connection_id))
            else:
                store_grant(self._vault, connection, grant, now)
            if connection.refresh_lock_owner == self._owner:
                connection.refresh_lock_owner = None
                connection.refresh_lock_expires_at = None
            token_encrypted = connection.access_token_encrypted
        log.info("token_refreshed", connection_id=str(connection_id))
        assert token_encrypted is not None
        return self._vault.open(token_encrypted, context=access_context(connection_id))

    async def _newer_token(self, connection_id: uuid.UUID, generation: int) -> str | None:
        snapshot = await self._snapshot(connection_id)
        if snapshot.generation != generation:
            await self._release_lease(connection_id)
            return self._open_access(connection_id, snapshot)
        return None

    async def _snapshot(self, connection_id: uuid.UUID) -> _Snapshot:
        async with self._sessionmaker() as session:
            row = (
                await session.execute(
                    select(
                        Connection.status,
                        Connection.token_generation,
                        Connection.access_token_encrypted,
                        Connection.refresh_token_encrypted,
                        Connection.access_expires_at,
                    ).where(Connection.id == connection_id)
                )
            ).first()
        if row is None:
            raise ConnectionNotFound()
        snapshot = _Snapshot(*row)
        if snapshot.status is ConnectionStatus.revoked:
            raise ConnectionRevoked()
        if snapshot.status is ConnectionStatus.reconnect_required:
            raise ReconnectRequired()
        return snapshot

    def _open_access(self, connection_id: uuid.UUID, snapshot: _Snapshot) -> str:
        if snapshot.access_token_encrypted is None:
            raise ReconnectRequired()
        return self._vault.open(
            snapshot.access_token_encrypted, context=access_context(connection_id)
        )

    async def _take_lease(self, connection_id: uuid.UUID, generation: int) -> bool:
        now = self._clock()
        async with self._sessionmaker() as session, session.begin():
            result = await session.execute(
                update(Connection)
                .where(
                    Connection.id == connection_id,
                    Connection.token_generation == generation,
                    Connection.status == ConnectionStatus.active,
                    or_(
                        Connection.refresh_lock_expires_at.is_(None),
                        Connection.refresh_lock_expires_at < now,
                    ),
                )
                .values(refresh_lock_owner=self._owner, refresh_lock_expires_at=now + REFRESH_LEASE)
                .execution_options(synchronize_session=False)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _release_lease(self, connection_id: uuid.UUID) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                update(Connection)
                .where(Connection.id == connection_id, Connection.refresh_lock_owner == self._owner)
                .values(refresh_lock_owner=None, refresh_lock_expires_at=None)
                .execution_options(synchronize_session=False)
            )

    async def _mark_reconnect(self, connection_id: uuid.UUID, reason: str) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .values(
                    status=ConnectionStatus.reconnect_required,
                    status_reason=reason,
                    refresh_lock_owner=None,
                    refresh_lock_expires_at=None,
                )
                .execution_options(synchronize_session=False)
            )
