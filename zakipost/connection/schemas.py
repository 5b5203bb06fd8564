from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import Field

from zakipost.models import Connection, ConnectionStatus
from zakipost.plain_text import Text
from zakipost.publishing.daily_cap import CapState
from zakipost.schemas import Schema

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
    username: str | None
    nickname: str | None
    avatar_url: str | None
    status: ConnectionStatus
    status_reason: str | None
    scopes: list[str]
    access_token_expires_at: dt.datetime | None
    refresh_token_expires_at: dt.datetime | None
    connected_at: dt.datetime
    creator_info: CreatorCapabilities | None
    cap: CapState | None = None

    @classmethod
    def of(cls, connection: Connection, cap: CapState | None = None) -> TikTokAccountOut:
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
        return cls(
            tiktok_account_id=connection.internal_token,
            open_id=connection.open_id,
            username=connection.username,
            nickname=connection.display_name,
            avatar_url=connection.avatar_url,
            status=connection.status,
            status_reason=connection.status_reason,
            scopes=list(connection.scopes or []),
            access_token_expires_at=connection.access_expires_at,
            refresh_token_expires_at=connection.refresh_expires_at,
            connected_at=connection.created_at,
            creator_info=capabilities,
            cap=cap,
        )
