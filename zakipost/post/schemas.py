"""Request and response bodies of the publish API."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from zakipost.models import Post, PostEvent
from zakipost.schemas import Schema
from zakipost.tiktok import utf16_length

VIDEO_TITLE_LIMIT = 2200


class PrivacyLevel(enum.StrEnum):
    PUBLIC_TO_EVERYONE = "PUBLIC_TO_EVERYONE"
    MUTUAL_FOLLOW_FRIENDS = "MUTUAL_FOLLOW_FRIENDS"
    FOLLOWER_OF_CREATOR = "FOLLOWER_OF_CREATOR"
    SELF_ONLY = "SELF_ONLY"


class PostModeIn(enum.StrEnum):
    direct = "direct"
    draft = "draft"


class VideoPublishRequest(BaseModel):
    """The body of ``POST /v1/tiktok/publish``. Unknown fields are refused, so a misspelt
    field never silently does nothing."""

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

    video_url: Annotated[str, Field(min_length=1, max_length=4096)] = Field(
        description="A direct link to the video file; ZakiPost's server must be able to read it."
    )
    tiktok_account_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The connected account's internal_token."
    )
    title: str | None = Field(
        None, description=f"Caption, hashtags welcome; at most {VIDEO_TITLE_LIMIT} UTF-16 units."
    )
    privacy_level: PrivacyLevel | None = Field(
        None,
        description="Must be one the connected account offers (see GET /v1/tiktok/accounts/{id}). "
        "When omitted the post is SELF_ONLY, which every account offers.",
    )
    disable_comment: StrictBool | None = None
    disable_duet: StrictBool | None = None
    disable_stitch: StrictBool | None = None
    ai_generated_content: StrictBool = Field(False, description="AI-generated content disclosure.")
    brand_content_toggle: StrictBool = Field(
        False, description="Paid partnership: promotes a third-party brand (not with SELF_ONLY)."
    )
    brand_organic_toggle: StrictBool = Field(
        False, description="Promotes the creator's own business."
    )
    video_cover_timestamp_ms: Annotated[StrictInt, Field(ge=0)] | None = Field(
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
    def _strip(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("has leading or trailing spaces; remove them")
        return value


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
    tiktok_post_ids: list[str]
    tiktok_status: str | None
    points_cost: int
    error: PostError | None
    timeline: list[TimelineEvent] | None = None

    @classmethod
    def of(cls, post: Post, internal_token: str, events: list[PostEvent] | None = None) -> PostOut:
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
            tiktok_status=post.tiktok_status,
            points_cost=post.cost_points,
            error=error,
            timeline=[TimelineEvent.of(e) for e in events] if events is not None else None,
        )


class PostPage(Schema):
    items: list[PostOut]
    next_cursor: str | None = Field(None, description="Pass as cursor for the next page.")
