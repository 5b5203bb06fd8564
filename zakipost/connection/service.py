"""Connect TikTok: begin (state + PKCE + authorize URL), complete (checks, exchange, store),
list, show with fresh creator info, disconnect."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost import events
from zakipost.config import Settings
from zakipost.connection.errors import ConnectionNotFound, InvalidRedirectUrl
from zakipost.connection.repository import ConnectionRepository, PublishTarget
from zakipost.connection.scopes import PROFILE_SCOPE, scope_refusal
from zakipost.connection.tokens import TokenVault, keep_grant
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import Vault, digest
from zakipost.logging import get_logger
from zakipost.models import Account, Connection, ConnectionStatus, OAuthState
from zakipost.tiktok import (
    CreatorInfo,
    TikTokClient,
    TikTokError,
    TikTokPostingRefused,
    TokenGrant,
)

log = get_logger(__name__)

STATE_LIFETIME = dt.timedelta(minutes=10)
USER_FIELDS_BASIC = ("open_id", "union_id", "avatar_url", "display_name")
USER_FIELDS_PROFILE = ("username",)


def _verifier_context(state_hash: str) -> str:
    return f"oauth_states.code_verifier:{state_hash}"


def check_redirect_url(url: str | None) -> str | None:
    if url is None or url == "":
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRedirectUrl(
            "redirect_url must be an absolute http(s) URL, like https://app.example.com/tiktok/done."
        )
    return url


async def begin_connect(
    session: AsyncSession,
    settings: Settings,
    vault: Vault,
    tiktok: TikTokClient,
    account: Account,
    *,
    redirect_url: str | None = None,
) -> str:
    """Store a single-use state bound to ``account`` and return TikTok's consent URL."""
    state = secrets.token_urlsafe(32)
    pkce = tiktok.make_pkce_pair()
    state_hash = digest(state)
    session.add(
        OAuthState(
            account_id=account.id,
            state_hash=state_hash,
            code_verifier_encrypted=vault.seal(
                pkce.verifier, context=_verifier_context(state_hash)
            ),
            redirect_url=check_redirect_url(redirect_url),
            expires_at=utcnow() + STATE_LIFETIME,
        )
    )
    await session.flush()
    return tiktok.authorize_url(
        redirect_uri=settings.tiktok_redirect_uri,
        scopes=settings.tiktok.scopes,
        state=state,
        code_challenge=pkce.challenge,
    )


@dataclass(frozen=True, slots=True)
class ConnectResult:
    """How a callback ended. ``redirect_url`` is set for connects begun over the API."""

    ok: bool
    redirect_url: str | None
    account_id: uuid.UUID | None = None
    connection: Connection | None = None
    error: str | None = None
    error_description: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackParams:
    state: str | None
    code: str | None
    scopes: str | None
    error: str | None
    error_description: str | None


async def _consume_state(
    sessionmaker: async_sessionmaker[AsyncSession],
    vault: Vault,
    state: str | None,
    signed_in_account: uuid.UUID | None,
) -> tuple[OAuthState | None, str | None, str | None]:
    """Mark the state used (in its own short transaction) and return it with its verifier,
    or the reason it is refused."""
    if not state:
        return None, None, "The request has no state; start Connect TikTok again."
    async with sessionmaker() as session, session.begin():
        row = (
            await session.scalars(
                select(OAuthState).where(OAuthState.state_hash == digest(state)).with_for_update()
            )
        ).first()
        if row is None:
            return None, None, "This connect link is not one we issued; start Connect TikTok again."
        # A used or expired state ends on our own page, never at its stored redirect_url:
        # whoever holds an old link must not be able to send users there with a message.
        if row.used_at is not None:
            return None, None, "This connect link was already used; start Connect TikTok again."
        if row.expires_at <= utcnow():
            return (
                None,
                None,
                "This connect link expired (after 10 minutes); start Connect TikTok again.",
            )
        if signed_in_account is not None and signed_in_account != row.account_id:
            return None, None, "This connect link belongs to another ZakiPost account."
        row.used_at = utcnow()
        verifier = vault.open(
            row.code_verifier_encrypted, context=_verifier_context(row.state_hash)
        )
        return row, verifier, None


async def complete_connect(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    vault: Vault,
    tiktok: TikTokClient,
    params: CallbackParams,
    *,
    signed_in_account: uuid.UUID | None = None,
) -> ConnectResult:
    """Handle TikTok's redirect back. Nothing is stored unless every check passes."""
    row, verifier, refusal = await _consume_state(
        sessionmaker, vault, params.state, signed_in_account
    )
    redirect_url = row.redirect_url if row is not None else None
    account_id = row.account_id if row is not None else None

    def fail(error: str, description: str) -> ConnectResult:
        log.info("connect_refused", error=error)
        return ConnectResult(
            False, redirect_url, account_id, error=error, error_description=description
        )

    if refusal is not None or row is None:
        return fail("invalid_state", refusal or "Invalid state.")
    if params.error:
        if params.error == "access_denied":
            return fail("access_denied", "You declined access on TikTok's consent screen.")
        if params.error == "invalid_scope":
            log.warning("connect_scope_not_approved", scopes=",".join(settings.tiktok.scopes))
            return fail("invalid_scope", scope_refusal(settings.tiktok.scopes))
        return fail(params.error, params.error_description or "TikTok reported an error.")
    if not params.code:
        return fail("invalid_request", "TikTok sent no authorization code.")
    granted = [s for s in (params.scopes or "").split(",") if s]
    missing = [s for s in settings.tiktok.scopes if s not in granted]
    if missing:
        return fail(
            "missing_scopes",
            "ZakiPost needs every permission it asked for; these were not granted: "
            + ", ".join(missing)
            + ". Connect again and leave them switched on.",
        )
    try:
        grant = await tiktok.exchange_code(
            code=params.code, redirect_uri=settings.tiktok_redirect_uri, code_verifier=verifier
        )
        missing = [s for s in settings.tiktok.scopes if grant.scopes and s not in grant.scopes]
        if missing:
            return fail(
                "missing_scopes", "These permissions were not granted: " + ", ".join(missing)
            )
        profile = PROFILE_SCOPE in (grant.scopes or granted)
        fields = USER_FIELDS_BASIC + (USER_FIELDS_PROFILE if profile else ())
        user = await tiktok.get_user_info(grant.access_token, fields)
        username = user.username if profile else await _username_from_creator_info(tiktok, grant)
    except TikTokError as exc:
        log.warning("connect_exchange_failed", error=exc.code)
        return fail("tiktok_error", f"TikTok refused the connection ({exc.code}); try again.")
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        connection = (
            await session.scalars(
                select(Connection)
                .where(Connection.account_id == row.account_id, Connection.open_id == grant.open_id)
                .with_for_update()
            )
        ).first()
        if connection is None:
            connection = Connection(
                id=uuid.uuid4(), account_id=row.account_id, open_id=grant.open_id
            )
            session.add(connection)
        connection.union_id = user.union_id
        connection.username = username
        connection.display_name = user.display_name
        connection.avatar_url = user.avatar_url
        connection.status = ConnectionStatus.active
        connection.status_reason = None
        connection.scopes = list(grant.scopes or granted)
        await keep_grant(session, vault, connection, grant, now)
        await session.flush()
        events.record(
            session,
            events.DomainEvent(
                "connection.connected", connection.account_id, "connection", connection.id
            ),
        )
    log.info("tiktok_connected", connection_id=str(connection.id))
    return ConnectResult(True, redirect_url, row.account_id, connection=connection)


async def _username_from_creator_info(tiktok: TikTokClient, grant: TokenGrant) -> str | None:
    """Without the Display API's user.info.profile, TikTok's creator info (video.publish)
    still names the creator."""
    if not grant.has_scopes("video.publish"):
        return None
    try:
        info = await tiktok.query_creator_info(grant.access_token)
    except TikTokPostingRefused:
        return None
    return info.creator_username


async def list_for(session: AsyncSession, account_id: uuid.UUID) -> Sequence[Connection]:
    return await ConnectionRepository.from_session(session).list_for_account(account_id)


async def get_for(session: AsyncSession, account_id: uuid.UUID, ref: str | uuid.UUID) -> Connection:
    """One of the account's connections by ``internal_token``; anyone else's is a 404."""
    try:
        token = ref if isinstance(ref, uuid.UUID) else uuid.UUID(str(ref))
    except ValueError:
        raise ConnectionNotFound(f"No connected TikTok account {ref!r}.") from None
    connection = await ConnectionRepository.from_session(session).get_for_account(account_id, token)
    if connection is None:
        raise ConnectionNotFound(f"No connected TikTok account {ref!r}.")
    return connection


def creator_info_record(
    previous: dict[str, Any] | None,
    info: CreatorInfo | None,
    refusal: TikTokPostingRefused | None,
) -> dict[str, Any]:
    """What to cache on the connection. When TikTok says the creator cannot post now it
    sends no options, so the last known ones are kept beside the reason."""
    record: dict[str, Any] = (
        info.model_dump(mode="json") if info is not None else dict(previous or {})
    )
    record["can_post"] = refusal is None
    record["cannot_post_reason"] = refusal.code if refusal is not None else None
    record["cannot_post_message"] = refusal.message if refusal is not None else None
    return record


def cached_creator_info(
    connection: Connection | PublishTarget, now: dt.datetime, fresh_for: dt.timedelta
) -> CreatorInfo | None:
    """The creator info cached on the connection, when fetched within ``fresh_for`` and
    TikTok then said the creator could post; None when it must be asked again."""
    return fresh_creator_info(
        connection.creator_info, connection.creator_info_fetched_at, now, fresh_for
    )


def fresh_creator_info(
    cached: dict[str, Any] | None,
    fetched: dt.datetime | None,
    now: dt.datetime,
    fresh_for: dt.timedelta,
) -> CreatorInfo | None:
    """:func:`cached_creator_info` from the two cache columns (read without the row)."""
    if not cached or not cached.get("can_post") or fetched is None or now - fetched >= fresh_for:
        return None
    return CreatorInfo.model_validate(
        {k: v for k, v in cached.items() if k in CreatorInfo.model_fields}
    )


async def refresh_creator_info(
    sessionmaker: async_sessionmaker[AsyncSession],
    tokens: TokenVault,
    tiktok: TikTokClient,
    connection_id: uuid.UUID,
) -> dict[str, Any]:
    """Ask TikTok what the creator may do now and cache it on the connection."""
    info: CreatorInfo | None = None
    refusal: TikTokPostingRefused | None = None
    try:
        info = await tokens.call(connection_id, tiktok.query_creator_info)
    except TikTokPostingRefused as exc:
        refusal = exc
    async with sessionmaker() as session, session.begin():
        connection = await ConnectionRepository.from_session(session).get(connection_id)
        if connection is None:
            raise ConnectionNotFound()
        record = creator_info_record(connection.creator_info, info, refusal)
        connection.creator_info = record
        connection.creator_info_fetched_at = utcnow()
    return record


async def disconnect(
    sessionmaker: async_sessionmaker[AsyncSession],
    vault: Vault,
    tiktok: TikTokClient,
    connection: Connection,
) -> None:
    """Revoke at TikTok (best effort) and delete the stored tokens."""
    from zakipost.connection.tokens import access_context

    if connection.access_token_encrypted:
        token = vault.open(connection.access_token_encrypted, context=access_context(connection.id))
        try:
            await tiktok.revoke(token)
        except TikTokError as exc:
            # The tokens are deleted either way; TikTok forgets them within a year at most.
            log.warning("revoke_failed", connection_id=str(connection.id), error=exc.code)
    async with sessionmaker() as session, session.begin():
        row = await ConnectionRepository.from_session(session).get(connection.id, lock=True)
        if row is None:
            return
        mark_revoked(session, row, "Disconnected by the owner.")


def mark_revoked(session: AsyncSession, row: Connection, reason: str) -> None:
    """The connection can no longer publish (its owner disconnected it, or TikTok says the
    authorization was removed): its tokens are deleted and its status is revoked."""
    if row.status is not ConnectionStatus.revoked:
        events.record(
            session,
            events.DomainEvent("connection.revoked", row.account_id, "connection", row.id),
        )
    row.access_token_encrypted = None
    row.refresh_token_encrypted = None
    row.access_expires_at = None
    row.refresh_expires_at = None
    row.status = ConnectionStatus.revoked
    row.status_reason = reason
    row.token_generation += 1
