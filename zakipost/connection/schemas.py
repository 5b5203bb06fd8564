from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import Field

from zakipost.connection.horizon import reconnect_by, reconnect_warning
from zakipost.connection.status import ConnectionStatus
from zakipost.kit.clock import utcnow
from zakipost.publishing.schemas import CapState
from zakipost.schemas import Schema
from zakipost.text import Text

if TYPE_CHECKING:
    from zakipost.models import Connection

REDIRECT_URL_LIMIT = 2000


class ConnectRequest(Schema):
    redirect_url: Text | None = Field(
        None,
        max_length=REDIRECT_URL_LIMIT,
        description="Where to send the user after TikTok's consent screen; the query then "
        "carries tiktok_account_id, or error and error_description.",
        examples=["https://app.example.com/tiktok/connected"],
    )


class ConnectStarted(Schema):
    authorize_url: str = Field(description="Send the user here: TikTok's consent screen.")
    expires_at: dt.datetime


class CreatorCapabilities(Schema):
    """What the creator may do right now, from TikTok's creator info."""

    nickname: str | None = None
    privacy_level_options: list[str] = Field(default_factory=list)
    comment_disabled: bool | None = None
    duet_disabled: bool | None = None
    stitch_disabled: bool | None = None
    max_video_post_duration_sec: int | None = None
    can_post: bool = True
    cannot_post_reason: str | None = None
    cannot_post_message: str | None = None
    fetched_at: dt.datetime | None = None


class TikTokAccountOut(Schema):
    tiktok_account_id: uuid.UUID = Field(description="The internal_token callers publish with.")
    open_id: str
    username: str | None = Field(
        description="The creator's TikTok handle: from user.info.profile when the TikTok app "
        "has the Display API, else from TikTok's creator info."
    )
    nickname: str | None
    avatar_url: str | None
    status: ConnectionStatus
    status_reason: str | None
    scopes: list[str] = Field(
        description="The TikTok scopes the creator granted (what ZakiPost may do for them)."
    )
    access_expires_at: dt.datetime | None = Field(
        description="When the current access token expires (TikTok's expires_in, about 2 h). "
        "ZakiPost refreshes it before then; the token itself is never shown."
    )
    next_refresh_at: dt.datetime | None = Field(
        description="When ZakiPost plans to refresh the access token next: at 50-75 % of the "
        "lifetime TikTok gave it. Null when the account is not active."
    )
    reconnect_by: dt.datetime | None = Field(
        description="When TikTok's authorization ends (180 days after connecting; refreshing "
        "does not extend it). The user must connect the account again before then."
    )
    reconnect_warning: str | None = Field(
        None,
        description="Set from 14 days before reconnect_by: what the user must do, and by when.",
    )
    access_token_expires_at: dt.datetime | None = Field(
        description="Deprecated: the same as access_expires_at.", deprecated=True
    )
    refresh_token_expires_at: dt.datetime | None = Field(
        description="When the refresh token expires (the same instant as reconnect_by)."
    )
    connected_at: dt.datetime
    creator_info: CreatorCapabilities | None
    cap: CapState | None = None

    @classmethod
    def of(
        cls, connection: Connection, cap: CapState | None = None, *, now: dt.datetime | None = None
    ) -> TikTokAccountOut:
        info: dict[str, Any] | None = connection.creator_info
        capabilities = None
        if info is not None:
            capabilities = CreatorCapabilities(
                nickname=info.get("creator_nickname"),
                privacy_level_options=info.get("privacy_level_options") or [],
                comment_disabled=info.get("comment_disabled"),
                duet_disabled=info.get("duet_disabled"),
                stitch_disabled=info.get("stitch_disabled"),
                max_video_post_duration_sec=info.get("max_video_post_duration_sec"),
                can_post=info.get("can_post", True),
                cannot_post_reason=info.get("cannot_post_reason"),
                cannot_post_message=info.get("cannot_post_message"),
                fetched_at=connection.creator_info_fetched_at,
            )
        active = connection.status is ConnectionStatus.active
        return cls(
            tiktok_account_id=connection.internal_token,
            open_id=connection.open_id,
            username=connection.username,
            nickname=connection.display_name,
            avatar_url=connection.avatar_url,
            status=connection.status,
            status_reason=connection.status_reason,
            scopes=list(connection.scopes or []),
            access_expires_at=connection.access_expires_at,
            next_refresh_at=connection.refresh_planned_at if active else None,
            reconnect_by=reconnect_by(connection),
            reconnect_warning=reconnect_warning(connection, now or utcnow()) if active else None,
            access_token_expires_at=connection.access_expires_at,
            refresh_token_expires_at=connection.refresh_expires_at,
            connected_at=connection.created_at,
            creator_info=capabilities,
            cap=cap,
        )
