"""``POST /posts`` bodies as CodivUpload's SDK sends them (``platforms``, ``profile_name``,
``media_urls``, ``description``, ``tiktok_*`` overrides), turned into ZakiPost's publish
requests. ``description`` is the caption TikTok shows; ``title`` is a photo post's title."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from zakipost.compat.codivupload.errors import (
    PlatformNotSupported,
    ProfileNotFound,
    UnsupportedFeature,
)
from zakipost.compat.posting import PublishRequest, build, invalid, looks_like_image
from zakipost.kit.clock import utcnow
from zakipost.models import Connection
from zakipost.post.schemas import PhotoPublishRequest, ScheduleChange, VideoPublishRequest

_FIELDS = frozenset(
    {
        "platforms",
        "description",
        "profile_name",
        "media_urls",
        "scheduled_date",
        "post_type",
        "title",
    }
)
_NOT_SUPPORTED = {
    "schedule_best_time": "pick scheduled_date yourself",
    "first_comment": "TikTok's API has no comments",
}
# tiktok_<name> → ZakiPost's field.
_OVERRIDES = {
    "tiktok_privacy_level": "privacy_level",
    "tiktok_disable_comment": "disable_comment",
    "tiktok_disable_duet": "disable_duet",
    "tiktok_disable_stitch": "disable_stitch",
    "tiktok_brand_content_toggle": "brand_content_toggle",
    "tiktok_brand_organic_toggle": "brand_organic_toggle",
    "tiktok_is_aigc": "ai_generated_content",
    "tiktok_auto_add_music": "auto_add_music",
    "tiktok_photo_cover_index": "photo_cover_index",
    "tiktok_video_cover_timestamp_ms": "video_cover_timestamp_ms",
}
_VIDEO_ONLY = ("disable_duet", "disable_stitch", "video_cover_timestamp_ms")
_PHOTO_ONLY = ("auto_add_music", "photo_cover_index")
_POST_MODES = {"DIRECT_POST": "direct", "DRAFT": "draft", "MEDIA_UPLOAD": "draft"}
_VIDEO_TYPES = frozenset({"video", "reel", "short"})
_PHOTO_TYPES = frozenset({"photo", "photos", "image", "images", "carousel"})

FIELD_NAMES = {
    "tiktok_account_id": "profile_name",
    "video_url": "media_urls",
    "photo_urls": "media_urls",
    "scheduled_at": "scheduled_date",
    "post_mode": "tiktok_post_mode",
    **{ours: theirs for theirs, ours in _OVERRIDES.items()},
}


def find_profile(connections: Sequence[Connection], profile_name: str) -> Connection:
    """The connected account a ``profile_name`` names: its TikTok username (with or without
    ``@``, any case), its ``tiktok_account_id``, or its display name."""
    wanted = profile_name.strip().removeprefix("@").casefold()
    for matches in (
        [c for c in connections if str(c.internal_token) == wanted],
        [c for c in connections if (c.username or "").casefold() == wanted],
        [c for c in connections if (c.display_name or "").casefold() == wanted],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise invalid(
                "profile_name",
                f"{profile_name!r} names {len(matches)} connected accounts; use the id "
                "GET /agency/profiles lists",
            )
    raise ProfileNotFound(
        f"No connected TikTok account goes by profile_name {profile_name!r}; GET "
        "/agency/profiles lists them (connect one in ZakiPost first).",
        details={"param": "profile_name"},
    )


def _scheduled(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid("scheduled_date", "must be an ISO 8601 date and time in UTC")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise invalid("scheduled_date", "is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # CodivUpload's dates are UTC
    moment = moment.astimezone(dt.UTC)
    return moment if moment > utcnow() else None


def translate(body: dict[str, Any], connections: Sequence[Connection]) -> PublishRequest:
    """ZakiPost's request for a CodivUpload ``POST /posts`` body (TikTok only)."""
    for key in body:
        if key in _NOT_SUPPORTED:
            raise UnsupportedFeature(
                f"{key} is not supported by ZakiPost: {_NOT_SUPPORTED[key]}.",
                details={"param": key},
            )
        if key not in _FIELDS and key not in _OVERRIDES and key != "tiktok_post_mode":
            raise invalid(key, "is not a field ZakiPost takes for a TikTok post; remove it")
    platforms = body.get("platforms")
    if not isinstance(platforms, list) or not platforms:
        raise invalid("platforms", 'is required: ["tiktok"]')
    others = [p for p in platforms if p != "tiktok"]
    if others:
        raise PlatformNotSupported(
            f"ZakiPost publishes to TikTok only; remove {', '.join(map(str, others))} "
            "from platforms and post there another way.",
            details={"param": "platforms"},
        )
    profile_name = body.get("profile_name")
    if not isinstance(profile_name, str) or not profile_name.strip():
        raise invalid("profile_name", "is required: the TikTok account to post to")
    connection = find_profile(connections, profile_name)
    urls = body.get("media_urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise invalid("media_urls", "give one video URL or 1 to 35 image URLs")

    post_type = body.get("post_type")
    if post_type in _VIDEO_TYPES:
        photo = False
    elif post_type in _PHOTO_TYPES:
        photo = True
    elif post_type in (None, "post"):
        photo = all(looks_like_image(url) for url in urls)
    else:
        raise invalid("post_type", f"{post_type!r} cannot be posted to TikTok; use video or photo")

    mode = body.get("tiktok_post_mode") or "DIRECT_POST"
    if mode not in _POST_MODES:
        raise invalid("tiktok_post_mode", "must be DIRECT_POST or DRAFT")
    draft = _POST_MODES[mode] == "draft"
    fields: dict[str, Any] = {
        "tiktok_account_id": str(connection.internal_token),
        "post_mode": _POST_MODES[mode],
    }
    scheduled_at = _scheduled(body.get("scheduled_date"))
    if scheduled_at is not None:
        fields["scheduled_at"] = scheduled_at.isoformat()
    for theirs, ours in _OVERRIDES.items():
        if body.get(theirs) is None:
            continue
        if ours in (_PHOTO_ONLY if not photo else _VIDEO_ONLY):
            raise invalid(theirs, f"applies to {'photo' if not photo else 'video'} posts only")
        fields[ours] = body[theirs]
    description, title = body.get("description"), body.get("title")
    if photo:
        fields["photo_urls"] = urls
        if title:
            fields["title"] = title
        if description:
            fields["description"] = description
        return build(PhotoPublishRequest, fields, FIELD_NAMES)
    if len(urls) != 1:
        raise invalid("media_urls", "a TikTok video post takes exactly one URL")
    fields["video_url"] = urls[0]
    # The caption TikTok shows is CodivUpload's description; its title is for its dashboard.
    if description and not draft:
        fields["title"] = description
    return build(VideoPublishRequest, fields, {**FIELD_NAMES, "title": "description"})


def reschedule_time(body: dict[str, Any]) -> dt.datetime:
    """The new time of a ``PUT /posts/{id}``: ZakiPost changes only the schedule."""
    other = sorted(key for key in body if key != "scheduled_date")
    if other:
        raise UnsupportedFeature(
            f"ZakiPost changes only scheduled_date on an accepted post, not {', '.join(other)}; "
            "delete the post and create it again instead.",
            details={"param": other[0]},
        )
    moment = _scheduled(body.get("scheduled_date"))
    if moment is None:
        raise invalid("scheduled_date", "is required and must be in the future")
    try:
        return ScheduleChange(scheduled_at=moment).scheduled_at
    except ValidationError as exc:
        message = str(exc.errors()[0].get("msg", "is invalid")).removeprefix("Value error, ")
        raise invalid("scheduled_date", message) from None
