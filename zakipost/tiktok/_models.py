"""Typed values sent to and read from TikTok.

Response models ignore fields they do not know and accept absent fields, because TikTok omits
fields freely. Request models forbid unknown fields so a typo fails before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from zakipost.tiktok._errors import FailReasonInfo, describe_fail_reason

PrivacyLevel = Literal[
    "PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"
]
"""Who can see a post; must be one of ``CreatorInfo.privacy_level_options``."""

PostMode = Literal["DIRECT_POST", "MEDIA_UPLOAD"]
"""Photo posts: publish directly, or send to the creator's inbox as a draft."""

VIDEO_TITLE_MAX = 2200
PHOTO_TITLE_MAX = 90
PHOTO_DESCRIPTION_MAX = 4000
PHOTO_COUNT_MAX = 35


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit TikTok's text limits use."""
    return len(text.encode("utf-16-le")) // 2


def _check_length(value: str | None, limit: int, name: str) -> str | None:
    if value is not None and utf16_length(value) > limit:
        raise ValueError(f"{name} is longer than {limit} UTF-16 code units")
    return value


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_api(self) -> dict[str, Any]:
        """The JSON object TikTok expects; unset optional fields are left out."""
        return self.model_dump(exclude_none=True)


class TokenGrant(_Response):
    """A user access token and refresh token from ``/v2/oauth/token/``.

    The tokens are left out of ``repr`` and ``str``; read them from the attributes.
    """

    access_token: str = Field(repr=False)
    expires_in: int
    refresh_token: str = Field(repr=False)
    refresh_expires_in: int
    open_id: str
    scopes: list[str] = Field(default_factory=list)
    token_type: str = "Bearer"  # noqa: S105

    def access_token_expires_at(self, now: datetime) -> datetime:
        """When the access token expires, given ``now``, the time the grant was received."""
        return now + timedelta(seconds=self.expires_in)

    def refresh_token_expires_at(self, now: datetime) -> datetime:
        """When the refresh token expires, given ``now``, the time the grant was received."""
        return now + timedelta(seconds=self.refresh_expires_in)

    def has_scopes(self, *scopes: str) -> bool:
        """Whether the user granted every one of ``scopes``."""
        return set(scopes) <= set(self.scopes)


class UserInfo(_Response):
    """A TikTok user from ``/v2/user/info/``; only the requested fields are set."""

    model_config = ConfigDict(frozen=True, extra="allow", coerce_numbers_to_str=True)

    open_id: str | None = None
    union_id: str | None = None
    avatar_url: str | None = None
    avatar_url_100: str | None = None
    avatar_large_url: str | None = None
    display_name: str | None = None
    bio_description: str | None = None
    profile_deep_link: str | None = None
    is_verified: bool | None = None
    username: str | None = None
    follower_count: int | None = None
    following_count: int | None = None
    likes_count: int | None = None
    video_count: int | None = None


class Video(_Response):
    """A public TikTok video from the Display API; only the requested fields are set."""

    model_config = ConfigDict(frozen=True, extra="allow", coerce_numbers_to_str=True)

    id: str | None = None
    create_time: int | None = None
    cover_image_url: str | None = None
    share_url: str | None = None
    video_description: str | None = None
    duration: int | None = None
    height: int | None = None
    width: int | None = None
    title: str | None = None
    embed_html: str | None = None
    embed_link: str | None = None
    like_count: int | None = None
    comment_count: int | None = None
    share_count: int | None = None
    view_count: int | None = None


class VideoPage(_Response):
    """One page of ``/v2/video/list/``; pass ``cursor`` back to get the next page."""

    videos: list[Video] = Field(default_factory=list)
    cursor: int | None = None
    has_more: bool = False


class CreatorInfo(_Response):
    """What a creator may post right now, from ``creator_info/query``."""

    creator_avatar_url: str | None = None
    creator_username: str | None = None
    creator_nickname: str = ""
    privacy_level_options: list[str]
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = False
    max_video_post_duration_sec: int | None = None


class VideoPostInfo(_Request):
    """``post_info`` for a Direct Post video. Both brand toggles are always sent."""

    privacy_level: PrivacyLevel
    title: str | None = None
    disable_duet: bool = False
    disable_stitch: bool = False
    disable_comment: bool = False
    video_cover_timestamp_ms: int | None = Field(default=None, ge=0)
    brand_content_toggle: bool = False
    brand_organic_toggle: bool = False
    is_aigc: bool | None = None

    @field_validator("title")
    @classmethod
    def _title_length(cls, value: str | None) -> str | None:
        return _check_length(value, VIDEO_TITLE_MAX, "title")


class PhotoPostInfo(_Request):
    """``post_info`` for a photo post; ``privacy_level`` is required for DIRECT_POST."""

    title: str | None = None
    description: str | None = None
    privacy_level: PrivacyLevel | None = None
    disable_comment: bool = False
    auto_add_music: bool = False
    brand_content_toggle: bool = False
    brand_organic_toggle: bool = False

    @field_validator("title")
    @classmethod
    def _title_length(cls, value: str | None) -> str | None:
        return _check_length(value, PHOTO_TITLE_MAX, "title")

    @field_validator("description")
    @classmethod
    def _description_length(cls, value: str | None) -> str | None:
        return _check_length(value, PHOTO_DESCRIPTION_MAX, "description")


class FileUploadSource(_Request):
    """``source_info`` for a video whose bytes will be PUT to the returned upload_url."""

    video_size: int = Field(gt=0)
    chunk_size: int = Field(gt=0)
    total_chunk_count: int = Field(ge=1)

    @classmethod
    def from_plan(cls, plan: ChunkPlan) -> FileUploadSource:
        """The source_info that announces ``plan`` to TikTok."""
        return cls(
            video_size=plan.video_size,
            chunk_size=plan.chunk_size,
            total_chunk_count=plan.total_chunk_count,
        )

    def to_api(self) -> dict[str, Any]:
        """The ``source_info`` object."""
        return {"source": "FILE_UPLOAD", **super().to_api()}


class PullFromUrlSource(_Request):
    """``source_info`` for a video TikTok downloads from a verified https URL."""

    video_url: str

    def to_api(self) -> dict[str, Any]:
        """The ``source_info`` object."""
        return {"source": "PULL_FROM_URL", "video_url": self.video_url}


class InitResult(_Response):
    """The answer to an init call. ``upload_url`` is set for FILE_UPLOAD only.

    The upload_url carries an upload token, so it is left out of ``repr``.
    """

    publish_id: str
    upload_url: str | None = Field(default=None, repr=False)


class PublishState(StrEnum):
    """Values of ``PublishStatus.status``."""

    PROCESSING_UPLOAD = "PROCESSING_UPLOAD"
    PROCESSING_DOWNLOAD = "PROCESSING_DOWNLOAD"
    SEND_TO_USER_INBOX = "SEND_TO_USER_INBOX"
    PUBLISH_COMPLETE = "PUBLISH_COMPLETE"
    FAILED = "FAILED"


_POST_ID_KEYS = ("publicaly_available_post_id", "publicly_available_post_id")


class PublishStatus(_Response):
    """The state of a publish from ``status/fetch``.

    ``publicly_available_post_ids`` is read from TikTok's misspelled
    ``publicaly_available_post_id`` (or the correct spelling) and holds post ids as strings,
    like the Display API's video ids.
    """

    status: str
    fail_reason: str | None = None
    publicly_available_post_ids: list[str] = Field(default_factory=list)
    uploaded_bytes: int | None = None
    downloaded_bytes: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_post_ids(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "publicly_available_post_ids" in data:
            return data
        raw: Any = next((data[key] for key in _POST_ID_KEYS if data.get(key)), [])
        values = raw if isinstance(raw, list) else [raw]
        return {**data, "publicly_available_post_ids": [str(v) for v in values if v != ""]}

    @property
    def is_terminal(self) -> bool:
        """Whether polling can stop: published, failed, or delivered to the inbox.

        An inbox draft can still turn into ``PUBLISH_COMPLETE`` when the creator posts it.
        """
        return self.status in {
            PublishState.PUBLISH_COMPLETE,
            PublishState.FAILED,
            PublishState.SEND_TO_USER_INBOX,
        }

    @property
    def is_failed(self) -> bool:
        """Whether TikTok gave up on this publish."""
        return self.status == PublishState.FAILED

    def describe_failure(self) -> FailReasonInfo | None:
        """A message for the person whose post failed, or None if it did not fail."""
        return describe_fail_reason(self.fail_reason) if self.is_failed else None


@dataclass(frozen=True, slots=True)
class ChunkRange:
    """One chunk of a FILE_UPLOAD: bytes ``start`` to ``end``, both inclusive."""

    index: int
    start: int
    end: int

    @property
    def size(self) -> int:
        """Number of bytes in the chunk."""
        return self.end - self.start + 1

    def content_range(self, total: int) -> str:
        """The ``Content-Range`` request header for this chunk."""
        return f"bytes {self.start}-{self.end}/{total}"


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """How a file is split for FILE_UPLOAD: the values for source_info and each chunk's range."""

    video_size: int
    chunk_size: int
    total_chunk_count: int
    chunks: tuple[ChunkRange, ...]

    @classmethod
    def from_chunk_size(cls, video_size: int, chunk_size: int) -> ChunkPlan:
        """Split ``video_size`` bytes by TikTok's arithmetic, without checking size limits.

        ``total_chunk_count`` is ``floor(video_size / chunk_size)`` and the final chunk
        absorbs the remaining bytes. Use ``plan_chunks`` for a plan TikTok will accept.
        """
        if video_size < 1 or not 1 <= chunk_size <= video_size:
            raise ValueError("need 1 <= chunk_size <= video_size")
        count = video_size // chunk_size
        chunks = tuple(
            ChunkRange(
                index=i,
                start=i * chunk_size,
                end=video_size - 1 if i == count - 1 else (i + 1) * chunk_size - 1,
            )
            for i in range(count)
        )
        return cls(video_size, chunk_size, count, chunks)

    def chunk_starting_at(self, offset: int) -> int | None:
        """Index of the chunk that starts at byte ``offset``; the chunk count at end of file."""
        if offset == self.video_size:
            return self.total_chunk_count
        if offset < 0 or offset % self.chunk_size or offset // self.chunk_size >= len(self.chunks):
            return None
        return offset // self.chunk_size


@dataclass(frozen=True, slots=True)
class UploadProgress:
    """How far TikTok has confirmed an upload; persist ``next_offset`` to resume later."""

    next_chunk_index: int
    next_offset: int
    total_chunks: int
    total_bytes: int

    @property
    def complete(self) -> bool:
        """Whether TikTok has every byte."""
        return self.next_offset >= self.total_bytes


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """The result of a finished upload."""

    progress: UploadProgress
    # Chunks TikTok confirmed during this call.
    chunks_sent: int
    # Chunks TikTok already had, learned from a 416 progress header.
    chunks_skipped: int
    # PUT requests made, retries included.
    requests: int

    @property
    def completed(self) -> bool:
        """Whether TikTok has the whole file and started processing it."""
        return self.progress.complete
