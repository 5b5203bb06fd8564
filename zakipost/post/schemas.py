"""Request and response bodies of the publish API."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from zakipost.publishing.states import PostStatus
from zakipost.schemas import INT32_MAX, Schema
from zakipost.text import Text
from zakipost.tiktok import utf16_length

if TYPE_CHECKING:
    from zakipost.models import Post, PostEvent

VIDEO_TITLE_LIMIT = 2200


class PrivacyLevel(enum.StrEnum):
    PUBLIC_TO_EVERYONE = "PUBLIC_TO_EVERYONE"
    MUTUAL_FOLLOW_FRIENDS = "MUTUAL_FOLLOW_FRIENDS"
    FOLLOWER_OF_CREATOR = "FOLLOWER_OF_CREATOR"
    SELF_ONLY = "SELF_ONLY"


class PostModeIn(enum.StrEnum):
    direct = "direct"
    draft = "draft"


class OnDailyCap(enum.StrEnum):
    defer = "defer"
    fail = "fail"


SCHEDULE_HORIZON = dt.timedelta(days=365)
# A scheduled time this far in the past still counts as "now" (clock skew, slow clients).
SCHEDULE_GRACE = dt.timedelta(seconds=60)


class _PostRequest(BaseModel):
    """Fields every kind of post shares. Unknown fields are refused, so a misspelt field
    never silently does nothing."""

    model_config = ConfigDict(extra="forbid")

    tiktok_account_id: Annotated[Text, Field(min_length=1, max_length=64)] = Field(
        description="The connected account's internal_token."
    )
    privacy_level: PrivacyLevel | None = Field(
        None,
        description="Must be one the connected account offers (see GET /v1/tiktok/accounts/{id}). "
        "When omitted the post is SELF_ONLY, which every account offers. Not used for video drafts.",
    )
    disable_comment: StrictBool | None = Field(
        None,
        description="Turn comments off. Omitted: on, unless the creator turned them off; false for "
        "a creator who turned them off fails the post.",
    )
    ai_generated_content: StrictBool = Field(False, description="AI-generated content disclosure.")
    brand_content_toggle: StrictBool = Field(
        False, description="Paid partnership: promotes a third-party brand (never with SELF_ONLY)."
    )
    brand_organic_toggle: StrictBool = Field(
        False, description="Promotes the creator's own business."
    )
    post_mode: PostModeIn = Field(
        PostModeIn.direct,
        description="direct: posted to the profile. draft: sent to the creator's TikTok inbox; "
        "they open TikTok's notification to finish the post.",
    )
    scheduled_at: AwareDatetime | None = Field(
        None,
        description="ISO 8601 with an offset, up to a year ahead; the post waits as scheduled.",
        examples=["2026-12-24T18:00:00+01:00"],
    )
    on_daily_cap: OnDailyCap = Field(
        OnDailyCap.defer,
        description="When the creator reached TikTok's daily post cap: wait for a free slot "
        "(defer, the default) or fail at once.",
    )

    @field_validator("scheduled_at")
    @classmethod
    def _schedule_window(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        now = dt.datetime.now(dt.UTC)
        if value < now - SCHEDULE_GRACE:
            raise ValueError("is in the past; give a future time with its offset")
        if value > now + SCHEDULE_HORIZON:
            raise ValueError("is more than a year ahead")
        return value.astimezone(dt.UTC)

    @model_validator(mode="after")
    def _branded_content_is_never_private(self) -> _PostRequest:
        if self.brand_content_toggle and self.privacy_level is PrivacyLevel.SELF_ONLY:
            raise ValueError(
                "brand_content_toggle cannot be used with SELF_ONLY: branded content must be "
                "visible to others; choose another privacy_level"
            )
        return self


_VIDEO_DRAFT_IGNORED = (
    "title",
    "privacy_level",
    "disable_comment",
    "disable_duet",
    "disable_stitch",
    "brand_content_toggle",
    "brand_organic_toggle",
    "video_cover_timestamp_ms",
    "ai_generated_content",
)


class VideoPublishRequest(_PostRequest):
    """The body of ``POST /v1/tiktok/publish``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "video_url": "https://example.com/video.mp4",
                    "tiktok_account_id": "1b7e4f2a-8c3d-4e5f-9a0b-1c2d3e4f5a6b",
                    "title": "Caption text with #hashtags",
                    "privacy_level": "PUBLIC_TO_EVERYONE",
                    "disable_comment": False,
                    "disable_duet": False,
                    "disable_stitch": False,
                    "ai_generated_content": True,
                }
            ]
        },
    )

    video_url: Annotated[Text, Field(min_length=1, max_length=4096)] | None = Field(
        None,
        description="A direct link to the video file; ZakiPost's server must be able to read it. "
        "Required unless media_id is given.",
    )
    media_id: Annotated[Text, Field(min_length=1, max_length=64)] | None = Field(
        None, description="A video uploaded with POST /v1/media, instead of video_url."
    )
    title: Text | None = Field(
        None, description=f"Caption, hashtags welcome; at most {VIDEO_TITLE_LIMIT} UTF-16 units."
    )
    disable_duet: StrictBool | None = Field(None, description="Turn Duet off (as disable_comment).")
    disable_stitch: StrictBool | None = Field(
        None, description="Turn Stitch off (as disable_comment)."
    )
    video_cover_timestamp_ms: Annotated[StrictInt, Field(ge=0, le=INT32_MAX)] | None = Field(
        None, description="The frame used as cover, in milliseconds from the start."
    )

    @field_validator("title")
    @classmethod
    def _title_length(cls, value: str | None) -> str | None:
        if value is not None and utf16_length(value) > VIDEO_TITLE_LIMIT:
            raise ValueError(
                f"is {utf16_length(value)} UTF-16 units long; TikTok allows {VIDEO_TITLE_LIMIT}"
            )
        return value

    @field_validator("video_url")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        if value is not None and value != value.strip():
            raise ValueError("has leading or trailing spaces; remove them")
        return value

    @model_validator(mode="after")
    def _one_source_and_draft_fields(self) -> VideoPublishRequest:
        if (self.video_url is None) == (self.media_id is None):
            raise ValueError("give either video_url or media_id (exactly one)")
        if self.post_mode is PostModeIn.draft:
            given = [name for name in _VIDEO_DRAFT_IGNORED if name in self.model_fields_set]
            if given:
                raise ValueError(
                    f"{', '.join(given)} cannot be set on a video draft: TikTok's inbox upload "
                    "takes only the video, and the creator sets the caption and options in the "
                    "TikTok app; remove them or use post_mode direct"
                )
        return self


PHOTO_TITLE_LIMIT = 90
PHOTO_DESCRIPTION_LIMIT = 4000
MAX_PHOTOS = 35


class PhotoPublishRequest(_PostRequest):
    """The body of ``POST /v1/tiktok/photos``: a photo carousel (1 to 35 images).

    Title and description are sent to TikTok unchanged: hashtags and @mentions in them are
    kept (TikTok links them in the description); web links stay plain text.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tiktok_account_id": "1b7e4f2a-8c3d-4e5f-9a0b-1c2d3e4f5a6b",
                    "photo_urls": [
                        "https://example.com/1.jpg",
                        "https://example.com/2.png",
                    ],
                    "photo_cover_index": 0,
                    "title": "Weekend",
                    "description": "Two days by the sea #travel",
                    "privacy_level": "PUBLIC_TO_EVERYONE",
                    "auto_add_music": True,
                }
            ]
        },
    )

    photo_urls: list[Annotated[Text, Field(min_length=1, max_length=4096)]] | None = Field(
        None, description="1 to 35 direct links to JPEG, PNG or WebP images."
    )
    media_ids: list[Annotated[Text, Field(min_length=1, max_length=64)]] | None = Field(
        None, description="1 to 35 images uploaded with POST /v1/media, instead of photo_urls."
    )
    photo_cover_index: Annotated[StrictInt, Field(ge=0)] = Field(
        0, description="Which image (0-based) is the cover."
    )
    title: Text | None = Field(None, description=f"At most {PHOTO_TITLE_LIMIT} UTF-16 units.")
    description: Text | None = Field(
        None, description=f"At most {PHOTO_DESCRIPTION_LIMIT} UTF-16 units."
    )
    auto_add_music: StrictBool = Field(
        False, description="Let TikTok add recommended music (the creator can change it)."
    )

    @field_validator("title")
    @classmethod
    def _title_length(cls, value: str | None) -> str | None:
        if value is not None and utf16_length(value) > PHOTO_TITLE_LIMIT:
            raise ValueError(
                f"is {utf16_length(value)} UTF-16 units long; TikTok allows {PHOTO_TITLE_LIMIT} for photos"
            )
        return value

    @field_validator("description")
    @classmethod
    def _description_length(cls, value: str | None) -> str | None:
        if value is not None and utf16_length(value) > PHOTO_DESCRIPTION_LIMIT:
            raise ValueError(
                f"is {utf16_length(value)} UTF-16 units long; TikTok allows {PHOTO_DESCRIPTION_LIMIT}"
            )
        return value

    @model_validator(mode="after")
    def _images(self) -> PhotoPublishRequest:
        if (self.photo_urls is None) == (self.media_ids is None):
            raise ValueError("give either photo_urls or media_ids (exactly one)")
        images = self.photo_urls or self.media_ids or []
        if not 1 <= len(images) <= MAX_PHOTOS:
            raise ValueError(f"a carousel has 1 to {MAX_PHOTOS} images, not {len(images)}")
        if self.photo_cover_index >= len(images):
            raise ValueError(
                f"photo_cover_index {self.photo_cover_index} is out of range: "
                f"there are {len(images)} images (0 to {len(images) - 1})"
            )
        if self.post_mode is PostModeIn.draft:
            given = [
                n
                for n in (
                    "disable_comment",
                    "auto_add_music",
                    "brand_content_toggle",
                    "brand_organic_toggle",
                )
                if n in self.model_fields_set
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)} cannot be set on a photo draft: TikTok takes them only "
                    "for direct posts; the creator sets them in the TikTok app"
                )
        return self

    @property
    def image_count(self) -> int:
        return len(self.photo_urls or self.media_ids or [])


class ScheduleChange(BaseModel):
    """The body of ``PATCH /v1/tiktok/publish/{publish_id}``."""

    model_config = ConfigDict(extra="forbid")

    scheduled_at: AwareDatetime = Field(
        description="The new time, ISO 8601 with an offset, up to a year ahead.",
        examples=["2026-12-24T18:00:00+01:00"],
    )

    @field_validator("scheduled_at")
    @classmethod
    def _window(cls, value: dt.datetime) -> dt.datetime:
        checked = _PostRequest._schedule_window(value)
        assert checked is not None
        return checked


class PublishAccepted(Schema):
    publish_id: str = Field(examples=["v_pub_a1B2c3D4e5F6g7H8"])


class TimelineEvent(Schema):
    at: dt.datetime
    status: str
    step: str | None
    message: str
    details: dict[str, Any] | None = None

    @classmethod
    def of(cls, event: PostEvent) -> TimelineEvent:
        return cls(
            at=event.at,
            status=event.status,
            step=event.step,
            message=event.message,
            details=event.details,
        )


class PostError(Schema):
    code: str = Field(examples=["duration_check_failed"])
    message: str
    retryable: bool
    tiktok_fail_reason: str | None = None


WAITING_FOR_WORKER = (
    "No worker was seen in the last minute: this post waits until a worker runs "
    "(zakipost worker), then publishing starts."
)


def waits_for_worker(post: Post, *, workers_alive: bool, now: dt.datetime) -> bool:
    """Whether ``post`` is due for a worker while none is alive (so nothing moves it)."""
    if workers_alive:
        return False
    if post.status in (PostStatus.queued, PostStatus.processing):
        return True
    if post.status in (PostStatus.scheduled, PostStatus.deferred):
        return post.run_at is not None and post.run_at <= now
    return False


class PostOut(Schema):
    publish_id: str
    tiktok_account_id: str
    kind: str
    post_mode: str
    status: str = Field(
        description="scheduled, queued, deferred, processing, published, in_inbox, failed, "
        "cancelled or unknown."
    )
    step: str | None
    title: str | None
    privacy_level: str | None
    scheduled_at: dt.datetime | None
    run_at: dt.datetime | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    tiktok_publish_id: str | None
    tiktok_post_ids: list[str] = Field(
        description="TikTok's public post ids, as strings (they exceed 2^53). TikTok gives them "
        "to public posts after moderation, often a while after publishing."
    )
    post_url: str | None = Field(
        None,
        description="The post on tiktok.com (https://www.tiktok.com/@{username}/video/{id}, "
        "/photo/{id} for photos) once TikTok has given its public id; null until then, and "
        "for posts that are not public.",
        examples=["https://www.tiktok.com/@zakipost.demo/video/7602997517160123666"],
    )
    tiktok_status: str | None
    points_cost: int
    points_charged: int = Field(
        description="What the post cost after refunds: points_cost, or 0 once refunded."
    )
    error: PostError | None
    timeline: list[TimelineEvent] | None = None
    waiting_for: str | None = Field(
        None,
        description='"worker" when the post is due but no worker was seen in the last '
        "minute: it waits until one runs (waiting_message says so in words); null otherwise.",
        examples=[None, "worker"],
    )
    waiting_message: str | None = None

    @classmethod
    def of(
        cls,
        post: Post,
        internal_token: str,
        events: list[PostEvent] | None = None,
        *,
        waiting_for_worker: bool = False,
        username: str | None = None,
    ) -> PostOut:
        error = None
        if post.error_code:
            error = PostError(
                code=post.error_code,
                message=post.error_message or post.error_code,
                retryable=bool(post.error_retryable),
                tiktok_fail_reason=post.tiktok_fail_reason,
            )
        return cls(
            publish_id=post.publish_id,
            tiktok_account_id=internal_token,
            kind=post.kind.value,
            post_mode=post.post_mode.value,
            status=post.status.value,
            step=post.step.value if post.step else None,
            title=post.title,
            privacy_level=post.privacy_level,
            scheduled_at=post.scheduled_at,
            run_at=post.run_at,
            created_at=post.created_at,
            finished_at=post.finished_at,
            tiktok_publish_id=post.tiktok_publish_id,
            tiktok_post_ids=[str(p) for p in post.tiktok_post_ids or []],
            post_url=post_url(post, username),
            tiktok_status=post.tiktok_status,
            points_cost=post.cost_points,
            points_charged=max(post.cost_points - post.points_refunded, 0),
            error=error,
            timeline=[TimelineEvent.of(e) for e in events] if events is not None else None,
            waiting_for="worker" if waiting_for_worker else None,
            waiting_message=WAITING_FOR_WORKER if waiting_for_worker else None,
        )


class PostJobOut(Schema):
    """A job that drives the post (the queue's view, for understanding a stuck post)."""

    id: str
    kind: str = Field(examples=["publishing.run"])
    status: str = Field(
        description="todo (queued or waiting to retry), doing, succeeded, failed or cancelled."
    )
    attempts: int
    max_attempts: int | None
    run_at: dt.datetime = Field(description="When it is (or was) due.")
    running: bool = Field(description="A worker holds its lease now.")
    lease_expires_at: dt.datetime | None = Field(
        description="Until when its worker holds it; past while doing: the worker died and "
        "another takes it over."
    )
    last_error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


def post_url(post: Post, username: str | None) -> str | None:
    """The post's page on tiktok.com, from the first public id TikTok gave."""
    if not post.tiktok_post_ids or not username:
        return None
    path = "photo" if post.kind.value == "photo" else "video"
    return f"https://www.tiktok.com/@{quote(username, safe='._')}/{path}/{post.tiktok_post_ids[0]}"


class PostPage(Schema):
    items: list[PostOut]
    next_cursor: str | None = Field(None, description="Pass as cursor for the next page.")
