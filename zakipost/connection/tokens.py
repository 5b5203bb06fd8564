"""The token vault: decrypts access tokens and refreshes them, one refresh at a time.

TikTok rotates refresh tokens and the previous one stops working once a new one is issued,
so two refreshes of one connection at once leave one caller with a dead token, and the
connection with it. Refreshes are therefore serialized twice: an asyncio lock per connection
inside a process, and a short lease in the ``connections`` row across processes. Tokens are
written only by the lease holder, and every write bumps ``token_generation`` so a caller that
saw an older token knows someone else already refreshed.

A refresh is recorded (``refresh_sent_at``, ``refresh_sent_generation``) before it is sent.
When its answer is lost (a timeout or a dropped connection after the request left, or a crash)
TikTok may have rotated the token or not; the connection is marked
(``refresh_outcome_unknown_at``) and the next attempt sends the stored token once more to
learn which: accepted, the connection recovers; refused, it needs the user to connect again.
The same token is never sent a third time. A 5xx is an answer (TikTok did not handle it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost import events, metrics
from zakipost.connection.errors import ConnectionNotFound, ConnectionRevoked, ReconnectRequired
from zakipost.connection.horizon import horizon_passed, horizon_reason
from zakipost.connection.refresh_plan import lazy_margin, plan_refresh, queue_refresh
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import Vault
from zakipost.logging import get_logger
from zakipost.models import Connection, ConnectionStatus
from zakipost.tiktok import (
    AccessTokenInvalid,
    InvalidGrant,
    TikTokClient,
    TikTokError,
    TikTokTransportError,
    TokenGrant,
)

log = get_logger(__name__)
T = TypeVar("T")

REFRESH_LEASE = dt.timedelta(seconds=45)


def refresh_lease_for(request_timeout_seconds: float) -> dt.timedelta:
    """A refresh lease outlasting the refresh request itself: a lease that ran out while
    the request was in flight would let a second process send the same refresh token."""
    return max(REFRESH_LEASE, dt.timedelta(seconds=request_timeout_seconds + 15))


_WAIT_STEP_SECONDS = 0.05


def access_context(connection_id: uuid.UUID) -> str:
    return f"connections.access_token:{connection_id}"


def refresh_context(connection_id: uuid.UUID) -> str:
    return f"connections.refresh_token:{connection_id}"


def store_grant(vault: Vault, connection: Connection, grant: TokenGrant, now: dt.datetime) -> None:
    """Encrypt and keep a token grant (always the newly returned refresh token), what it said
    about its lifetimes, and the next planned refresh."""
    connection.access_token_encrypted = vault.seal(
        grant.access_token, context=access_context(connection.id)
    )
    connection.refresh_token_encrypted = vault.seal(
        grant.refresh_token, context=refresh_context(connection.id)
    )
    connection.access_expires_at = grant.access_token_expires_at(now)
    connection.access_expires_in = grant.expires_in
    connection.refresh_expires_at = grant.refresh_token_expires_at(now)
    connection.last_refreshed_at = now
    connection.token_generation = (connection.token_generation or 0) + 1
    connection.refresh_planned_at = plan_refresh(
        connection.id,
        connection.token_generation,
        now,
        dt.timedelta(seconds=grant.expires_in),
    )
    connection.refresh_sent_generation = None
    connection.refresh_outcome_unknown_at = None
    if grant.scopes:
        connection.scopes = list(grant.scopes)


async def keep_grant(
    session: AsyncSession, vault: Vault, connection: Connection, grant: TokenGrant, now: dt.datetime
) -> None:
    """``store_grant`` and queue the connection's refresh job for the planned time."""
    store_grant(vault, connection, grant, now)
    assert connection.refresh_planned_at is not None
    await queue_refresh(session, connection.id, connection.refresh_planned_at, now=now)


def lost_answer_reason(sent_at: dt.datetime) -> str:
    return (
        f"TikTok's answer to the token refresh at {sent_at:%Y-%m-%d %H:%M:%S} UTC was lost and "
        "TikTok no longer accepts the previous token; connect the account again."
    )


def lost_twice_reason(first: dt.datetime, second: dt.datetime) -> str:
    return (
        f"TikTok's answers to the token refreshes at {first:%Y-%m-%d %H:%M:%S} and "
        f"{second:%Y-%m-%d %H:%M:%S} UTC were both lost, so ZakiPost cannot tell which token "
        "TikTok still accepts and does not send it again; connect the account again."
    )


@dataclass(frozen=True, slots=True)
class TokenSnapshot:
    """What a call needs of the connection: its status, its token and the token's
    generation (:meth:`TokenVault.snapshot`)."""

    status: ConnectionStatus
    generation: int
    access_token_encrypted: str | None
    access_expires_at: dt.datetime | None
    access_expires_in: int | None
    last_refreshed_at: dt.datetime | None
    refresh_expires_at: dt.datetime | None
    refresh_planned_at: dt.datetime | None

    def fresh(self, now: dt.datetime) -> bool:
        """Valid for longer than the lazy margin of its lifetime."""
        if self.access_expires_at is None:
            return False
        lifetime = None
        if self.access_expires_in is not None:
            lifetime = dt.timedelta(seconds=self.access_expires_in)
        elif self.last_refreshed_at is not None:
            lifetime = self.access_expires_at - self.last_refreshed_at
        return self.access_expires_at - now > lazy_margin(lifetime)


# Built once: every TikTok call reads it.
_SNAPSHOT = select(
    Connection.status,
    Connection.token_generation,
    Connection.access_token_encrypted,
    Connection.access_expires_at,
    Connection.access_expires_in,
    Connection.last_refreshed_at,
    Connection.refresh_expires_at,
    Connection.refresh_planned_at,
    Connection.status_reason,
).where(Connection.id == bindparam("connection_id"))


@dataclass(frozen=True, slots=True)
class _Sending:
    """A refresh this vault holds the lease for and has recorded as sent."""

    generation: int
    refresh_token_encrypted: str
    sent_at: dt.datetime
    # Set when this send is the one attempt that learns whether the stored token still works.
    unknown_since: dt.datetime | None


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
        refresh_lease: dt.timedelta = REFRESH_LEASE,
        read_sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        # Plain reads of the token (every TikTok call makes one): on SQLite they need not
        # queue for the write lock. Every decision they inform is re-checked on the locked
        # row by the write that acts on it (_begin_sending, _keep, _mark_reconnect).
        self._read_sessionmaker = read_sessionmaker or sessionmaker
        self._refresh_lease = refresh_lease
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
        """A token valid for at least a quarter of its lifetime (at most 10 minutes) more."""
        return await self._usable_token(connection_id, await self._snapshot(connection_id))

    async def _usable_token(self, connection_id: uuid.UUID, snapshot: TokenSnapshot) -> str:
        if snapshot.fresh(self._clock()):
            return self._open_access(connection_id, snapshot)
        return await self.refresh(connection_id, seen_generation=snapshot.generation)

    async def refresh_if_planned(self, connection_id: uuid.UUID) -> bool:
        """The proactive refresh: refresh once the planned time has come (by this vault's
        clock, the one that planned it), unless someone refreshed since; True if it did."""
        snapshot = await self._snapshot(connection_id)
        planned = snapshot.refresh_planned_at
        if planned is None or planned > self._clock():
            return False
        await self.refresh(connection_id, seen_generation=snapshot.generation)
        return True

    async def call(
        self,
        connection_id: uuid.UUID,
        fn: Callable[[str], Awaitable[T]],
        *,
        snapshot: TokenSnapshot | None = None,
    ) -> T:
        """Run ``fn(access_token)``; on ``access_token_invalid`` refresh once and retry.

        ``snapshot``: the token as the caller read it (:meth:`snapshot`) in a transaction
        that has ended; otherwise it is read here."""
        # One read of the connection serves both the token and the generation a refresh
        # after a rejection compares against.
        if snapshot is None:
            snapshot = await self._snapshot(connection_id)
        else:
            snapshot = await self._within_horizon(connection_id, snapshot)
        token = await self._usable_token(connection_id, snapshot)
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
                fresh = snapshot.fresh(self._clock())
                if fresh and not force and seen_generation is None:
                    return self._open_access(connection_id, snapshot)
                sending = await self._begin_sending(connection_id, snapshot.generation)
                if sending is not None:
                    break
                await asyncio.sleep(_WAIT_STEP_SECONDS)
            return await self._send_refresh(connection_id, sending)

    async def _begin_sending(self, connection_id: uuid.UUID, generation: int) -> _Sending | None:
        """Take the refresh lease and record the send, in one transaction on the locked row.

        None while someone else holds the lease (or already refreshed). Raises
        ``ReconnectRequired`` when no refresh may be sent at all.
        """
        refusal: str | None = None
        async with self._sessionmaker() as session, session.begin():
            row = await session.get(
                Connection, connection_id, with_for_update=True, populate_existing=True
            )
            if row is None:
                raise ConnectionNotFound()
            now = self._clock()
            lease_held = row.refresh_lock_expires_at is not None and (
                row.refresh_lock_expires_at >= now
            )
            if (
                row.token_generation != generation
                or row.status is not ConnectionStatus.active
                or lease_held
            ):
                return None
            # An earlier send for this very token that was never answered (a crash after
            # sending leaves only refresh_sent_generation behind).
            unanswered = row.refresh_sent_generation == generation
            unknown_since = row.refresh_outcome_unknown_at
            if row.refresh_token_encrypted is None:
                refusal = "No refresh token is stored."
            elif horizon_passed(row.refresh_expires_at, now):
                assert row.refresh_expires_at is not None
                refusal = horizon_reason(row.refresh_expires_at)
            elif unanswered and unknown_since is not None:
                # The one learning attempt went unanswered too.
                refusal = lost_twice_reason(unknown_since, row.refresh_sent_at or now)
            if refusal is not None:
                _require_reconnect(session, row, refusal)
            else:
                if unanswered:
                    unknown_since = row.refresh_sent_at or now
                row.refresh_lock_owner = self._owner
                row.refresh_lock_expires_at = now + self._refresh_lease
                row.refresh_sent_at = now
                row.refresh_sent_generation = generation
                row.refresh_outcome_unknown_at = unknown_since
                assert row.refresh_token_encrypted is not None
                sending = _Sending(generation, row.refresh_token_encrypted, now, unknown_since)
        if refusal is not None:
            log.warning("token_refresh_not_sent", connection_id=str(connection_id), reason=refusal)
            raise ReconnectRequired(refusal)
        return sending

    async def _send_refresh(self, connection_id: uuid.UUID, sending: _Sending) -> str:
        refresh_token = self._vault.open(
            sending.refresh_token_encrypted, context=refresh_context(connection_id)
        )
        try:
            grant = await self._tiktok.refresh(refresh_token)
        except InvalidGrant as exc:
            metrics.token_refresh("refused")
            newer = await self._newer_token(connection_id, sending.generation)
            if newer is not None:
                return newer
            if sending.unknown_since is not None:
                reason = lost_answer_reason(sending.unknown_since)
            else:
                reason = f"TikTok refused the refresh: {exc.message}"
            await self._mark_reconnect(connection_id, reason)
            log.warning("token_refresh_refused", connection_id=str(connection_id), error=exc.code)
            raise ReconnectRequired(reason) from None
        except TikTokTransportError as exc:
            metrics.token_refresh("answer_lost" if exc.reached_tiktok else "failed")
            if not exc.reached_tiktok:
                await self._answered(connection_id)
                raise
            if sending.unknown_since is not None:
                reason = lost_twice_reason(sending.unknown_since, sending.sent_at)
                await self._mark_reconnect(connection_id, reason)
                log.warning("token_refresh_lost_twice", connection_id=str(connection_id))
                raise ReconnectRequired(reason) from None
            await self._answer_lost(connection_id, sending)
            log.warning("token_refresh_answer_lost", connection_id=str(connection_id))
            raise
        except TikTokError:
            # TikTok answered (a 5xx, a rate limit): it did not handle the refresh.
            metrics.token_refresh("failed")
            await self._answered(connection_id)
            raise
        except BaseException:
            # Cancelled or crashed mid-call: the send stays recorded as unanswered.
            await self._release_lease(connection_id)
            raise
        metrics.token_refresh("refreshed")
        return await self._keep(connection_id, sending, grant)

    async def _keep(self, connection_id: uuid.UUID, sending: _Sending, grant: TokenGrant) -> str:
        # Persist the answer before anything else: the previous refresh token is dead now.
        now = self._clock()
        async with self._sessionmaker() as session, session.begin():
            connection = await session.get(
                Connection, connection_id, with_for_update=True, populate_existing=True
            )
            if connection is None:
                raise ConnectionNotFound()
            if connection.token_generation != sending.generation:
                # Our lease ran out mid-call and another refresh already landed; keep theirs.
                log.warning("token_refresh_superseded", connection_id=str(connection_id))
            else:
                await keep_grant(session, self._vault, connection, grant, now)
            if connection.refresh_lock_owner == self._owner:
                connection.refresh_lock_owner = None
                connection.refresh_lock_expires_at = None
            token_encrypted = connection.access_token_encrypted
        log.info(
            "token_refreshed",
            connection_id=str(connection_id),
            recovered=sending.unknown_since is not None,
        )
        assert token_encrypted is not None
        return self._vault.open(token_encrypted, context=access_context(connection_id))

    async def _newer_token(self, connection_id: uuid.UUID, generation: int) -> str | None:
        snapshot = await self._snapshot(connection_id)
        if snapshot.generation != generation:
            await self._release_lease(connection_id)
            return self._open_access(connection_id, snapshot)
        return None

    async def snapshot(self, session: AsyncSession, connection_id: uuid.UUID) -> TokenSnapshot:
        """The connection's token as ``session``'s transaction sees it, for :meth:`call`:
        a caller that writes before its call reads the token in the same transaction.
        Raises as :meth:`call` would for a connection that cannot be used (a refresh token
        past its horizon is marked by :meth:`call`, outside the caller's transaction)."""
        row = (await session.execute(_SNAPSHOT, {"connection_id": connection_id})).first()
        if row is None:
            raise ConnectionNotFound()
        snapshot = TokenSnapshot(*row[:-1])
        if snapshot.status is ConnectionStatus.revoked:
            raise ConnectionRevoked()
        if snapshot.status is ConnectionStatus.reconnect_required:
            raise ReconnectRequired(row.status_reason)
        return snapshot

    async def _snapshot(self, connection_id: uuid.UUID) -> TokenSnapshot:
        async with self._read_sessionmaker() as session:
            snapshot = await self.snapshot(session, connection_id)
        # The read session is closed: _within_horizon may write (_mark_reconnect).
        return await self._within_horizon(connection_id, snapshot)

    async def _within_horizon(
        self, connection_id: uuid.UUID, snapshot: TokenSnapshot
    ) -> TokenSnapshot:
        if horizon_passed(snapshot.refresh_expires_at, self._clock()):
            # The refresh token is dead, so this connection cannot last: stop using it now.
            assert snapshot.refresh_expires_at is not None
            reason = horizon_reason(snapshot.refresh_expires_at)
            await self._mark_reconnect(connection_id, reason)
            raise ReconnectRequired(reason)
        return snapshot

    def _open_access(self, connection_id: uuid.UUID, snapshot: TokenSnapshot) -> str:
        if snapshot.access_token_encrypted is None:
            raise ReconnectRequired()
        return self._vault.open(
            snapshot.access_token_encrypted, context=access_context(connection_id)
        )

    async def _release_lease(self, connection_id: uuid.UUID, **values: object) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                update(Connection)
                .where(Connection.id == connection_id, Connection.refresh_lock_owner == self._owner)
                .values(refresh_lock_owner=None, refresh_lock_expires_at=None, **values)
                .execution_options(synchronize_session=False)
            )

    async def _answered(self, connection_id: uuid.UUID) -> None:
        """TikTok answered without handling the refresh: the token is as it was."""
        await self._release_lease(connection_id, refresh_sent_generation=None)

    async def _answer_lost(self, connection_id: uuid.UUID, sending: _Sending) -> None:
        await self._release_lease(
            connection_id, refresh_sent_generation=None, refresh_outcome_unknown_at=sending.sent_at
        )

    async def _mark_reconnect(self, connection_id: uuid.UUID, reason: str) -> None:
        async with self._sessionmaker() as session, session.begin():
            row = await session.get(
                Connection, connection_id, with_for_update=True, populate_existing=True
            )
            if row is not None and row.status is ConnectionStatus.active:
                _require_reconnect(session, row, reason)


def _require_reconnect(session: AsyncSession, row: Connection, reason: str) -> None:
    events.record(
        session,
        events.DomainEvent("connection.reconnect_required", row.account_id, "connection", row.id),
    )
    row.status = ConnectionStatus.reconnect_required
    row.status_reason = reason
    row.refresh_lock_owner = None
    row.refresh_lock_expires_at = None
    row.refresh_sent_generation = None
    row.refresh_planned_at = None
