"""Plain state objects of the emulated TikTok (no HTTP here)."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PUBLIC_ACCOUNT_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
PRIVATE_ACCOUNT_OPTIONS = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")


@dataclass
class Creator:
    username: str
    nickname: str
    open_id: str
    union_id: str
    is_private: bool = False
    privacy_level_options: list[str] = field(default_factory=lambda: list(PUBLIC_ACCOUNT_OPTIONS))
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = False
    max_video_post_duration_sec: int = 600
    daily_post_cap: int | None = None
    bio_description: str = ""
    is_verified: bool = False
    follower_count: int = 0
    following_count: int = 0
    likes_count: int = 0
    app_version: str = "35.2.0"
    banned: bool = False
    daily_cap_forced: bool = False
    # Times of Direct Post inits, shared across all API clients (rolling 24 h cap).
    post_times: list[datetime] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "nickname": self.nickname,
            "open_id": self.open_id,
            "union_id": self.union_id,
            "is_private": self.is_private,
            "privacy_level_options": list(self.privacy_level_options),
            "comment_disabled": self.comment_disabled,
            "duet_disabled": self.duet_disabled,
            "stitch_disabled": self.stitch_disabled,
            "max_video_post_duration_sec": self.max_video_post_duration_sec,
            "daily_post_cap": self.daily_post_cap,
            "bio_description": self.bio_description,
            "is_verified": self.is_verified,
            "follower_count": self.follower_count,
            "following_count": self.following_count,
            "likes_count": self.likes_count,
            "app_version": self.app_version,
            "banned": self.banned,
            "daily_cap_forced": self.daily_cap_forced,
            "posts_last_24h": len(self.post_times),
        }


@dataclass
class Grant:
    """One user consent: the token family hangs off it; the 1-year cap counts from it."""

    id: str
    client_key: str
    open_id: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass
class AccessToken:
    token: str
    grant_id: str
    expires_at: datetime
    revoked: bool = False


@dataclass
class RefreshToken:
    token: str
    grant_id: str
    expires_at: datetime
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    client_key: str
    redirect_uri: str
    open_id: str
    scopes: list[str]
    expires_at: datetime
    code_challenge: str | None = None
    used: bool = False


class Stage(enum.Enum):
    UPLOADING = "uploading"  # FILE_UPLOAD: waiting for chunks
    DOWNLOADING = "downloading"  # PULL_FROM_URL: download not finished
    PROCESSING = "processing"  # bytes complete, outcome not yet applied
    DONE = "done"  # PUBLISH_COMPLETE or SEND_TO_USER_INBOX
    FAILED = "failed"


@dataclass
class MediaFile:
    path: str
    size: int = 0
    sha256: str = ""
    kept: bool = True  # False once deleted (keep_media=False)


@dataclass
class Upload:
    """The FILE_UPLOAD task behind one `upload_url`; bytes go straight to disk."""

    upload_id: str
    token: str
    publish_id: str
    video_size: int
    chunk_size: int
    total_chunk_count: int
    expires_at: datetime
    path: str
    received: int = 0
    chunks_received: int = 0
    busy: bool = False
    hasher: Any = field(default_factory=hashlib.sha256)

    def chunk_bounds(self, index: int) -> tuple[int, int]:
        """First and last byte of chunk `index` (0-based); the final chunk absorbs the tail."""
        first = index * self.chunk_size
        last = (
            self.video_size - 1
            if index == self.total_chunk_count - 1
            else first + self.chunk_size - 1
        )
        return first, last


@dataclass
class Post:
    """A post created on the profile (one per direct post; one per draft posted from the inbox)."""

    post_id: int
    privacy_level: str
    created_at: datetime
    created_ms: int = 0  # unique per sandbox, so Display cursors never tie
    moderated: bool = False
    due_at: datetime | None = None
    taken_down: bool = False

    @property
    def public(self) -> bool:
        return self.privacy_level == "PUBLIC_TO_EVERYONE"

    @property
    def publicly_available(self) -> bool:
        return self.public and self.moderated and not self.taken_down


@dataclass
class Publish:
    publish_id: str
    client_key: str
    open_id: str
    grant_id: str
    post_mode: str  # DIRECT_POST | MEDIA_UPLOAD
    media_type: str  # VIDEO | PHOTO
    source: str  # FILE_UPLOAD | PULL_FROM_URL
    endpoint: str
    created_at: datetime
    stage: Stage
    post_info: dict[str, Any] = field(default_factory=dict)
    effective_flags: dict[str, bool] = field(default_factory=dict)
    is_aigc: bool = False
    video_url: str | None = None
    photo_images: list[str] = field(default_factory=list)
    photo_cover_index: int | None = None
    upload: Upload | None = None
    media: list[MediaFile] = field(default_factory=list)
    uploaded_bytes: int = 0
    downloaded_bytes: int = 0
    download_started: bool = False
    verdict: str | None = None
    forced_fail_reason: str | None = None
    fail_reason: str | None = None
    due_at: datetime | None = None
    posts: list[Post] = field(default_factory=list)
    draft_posted: bool = False
    video_meta: dict[str, Any] = field(default_factory=dict)

    @property
    def direct(self) -> bool:
        return self.post_mode == "DIRECT_POST"

    @property
    def status(self) -> str:
        if self.stage is Stage.FAILED:
            return "FAILED"
        if self.stage is Stage.DONE:
            if self.direct or self.draft_posted:
                return "PUBLISH_COMPLETE"
            return "SEND_TO_USER_INBOX"
        return "PROCESSING_UPLOAD" if self.source == "FILE_UPLOAD" else "PROCESSING_DOWNLOAD"

    @property
    def publish_type(self) -> str:
        return "DIRECT_PUBLISH" if self.direct else "INBOX_SHARE"

    @property
    def final(self) -> bool:
        return self.stage in (Stage.DONE, Stage.FAILED)

    def public_post_ids(self) -> list[int]:
        return [p.post_id for p in self.posts if p.publicly_available]
