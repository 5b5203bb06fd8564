"""``POST /v1/posts`` bodies as Zernio's SDK sends them, turned into ZakiPost's publish
requests. Zernio's TikTok settings come at the root (``tiktokSettings``) or in the TikTok
target's ``platformSpecificData`` (the latter wins), in camelCase or snake_case."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from zakipost.compat.posting import (
    VIDEO_EXTENSIONS,
    PublishRequest,
    build,
    extension,
    invalid,
    looks_like_image,
    shorten,
)
from zakipost.compat.zernio.errors import PlatformNotSupported, UnsupportedFeature
from zakipost.kit.clock import utcnow
from zakipost.post.schemas import (
    PHOTO_TITLE_LIMIT,
    PhotoPublishRequest,
    ScheduleChange,
    VideoPublishRequest,
)

MEDIA_PATH = re.compile(r"/compat/zernio/api/v1/media/(med_[A-Za-z0-9]{24})")

# Stored by Zernio for display only; ZakiPost keeps no copy (said in the response's warnings).
_REFERENCE_ONLY = ("title", "tags", "hashtags", "mentions", "metadata", "queuedFromProfile")
_ROOT_FIELDS = frozenset(
    {
        "content",
        "mediaItems",
        "platforms",
        "scheduledFor",
        "publishNow",
        "isDraft",
        "timezone",
        "crosspostingEnabled",
        "tiktokSettings",
        *_REFERENCE_ONLY,
    }
)
_TARGET_FIELDS = frozenset(
    {
        "platform",
        "accountId",
        "customContent",
        "customMedia",
        "scheduledFor",
        "platformSpecificData",
    }
)
_SETTINGS = frozenset(
    {
        "draft",
        "privacyLevel",
        "allowComment",
        "allowDuet",
        "allowStitch",
        "commercialContentType",
        "brandPartnerPromote",
        "isBrandOrganicPost",
        "contentPreviewConfirmed",
        "expressConsentGiven",
        "mediaType",
        "videoCoverTimestampMs",
        "photoCoverIndex",
        "autoAddMusic",
        "videoMadeWithAi",
        "description",
    }
)
_SETTINGS_NOT_SUPPORTED = frozenset(
    {
        "videoCoverImageUrl",
        "musicSoundInfo",
        "videoOriginalSoundVolume",
        "locationId",
        "locationName",
        "isAdsOnly",
        "publishType",
    }
)
# ZakiPost's field names, as a Zernio caller knows them (for refusals).
FIELD_NAMES = {
    "tiktok_account_id": "platforms[0].accountId",
    "video_url": "mediaItems[0].url",
    "media_id": "mediaItems[0].url",
    "photo_urls": "mediaItems",
    "media_ids": "mediaItems",
    "title": "content",
    "description": "tiktokSettings.description",
    "privacy_level": "tiktokSettings.privacyLevel",
    "disable_comment": "tiktokSettings.allowComment",
    "disable_duet": "tiktokSettings.allowDuet",
    "disable_stitch": "tiktokSettings.allowStitch",
    "video_cover_timestamp_ms": "tiktokSettings.videoCoverTimestampMs",
    "photo_cover_index": "tiktokSettings.photoCoverIndex",
    "auto_add_music": "tiktokSettings.autoAddMusic",
    "ai_generated_content": "tiktokSettings.videoMadeWithAi",
    "brand_content_toggle": "tiktokSettings.commercialContentType",
    "brand_organic_toggle": "tiktokSettings.commercialContentType",
    "scheduled_at": "scheduledFor",
    "post_mode": "tiktokSettings.draft",
}


@dataclass
class Translated:
    request: PublishRequest
    media: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _settings(raw: Any, param: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise invalid(param, "must be an object")
    settings: dict[str, Any] = {}
    for key, value in raw.items():
        name = camel(str(key))
        if name in _SETTINGS_NOT_SUPPORTED:
            raise UnsupportedFeature(
                f"{param}.{key} is not supported by ZakiPost; remove it.",
                details={"param": f"{param}.{key}"},
            )
        if name not in _SETTINGS:
            raise invalid(f"{param}.{key}", "is not a known TikTok setting; remove it")
        settings[name] = value
    return settings


def _bool(settings: dict[str, Any], name: str) -> bool | None:
    value = settings.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid(f"tiktokSettings.{name}", "must be true or false")
    return value


def _when(value: Any, timezone: Any, param: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise invalid(param, "is not an ISO 8601 date and time") from None
    else:
        raise invalid(param, "must be an ISO 8601 date and time")
    if moment.tzinfo is None:
        try:
            zone = zoneinfo.ZoneInfo(str(timezone or "UTC"))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise invalid("timezone", f"{timezone!r} is not an IANA time zone") from None
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(dt.UTC)


def media_id_in(url: str, public_url: str) -> str | None:
    """The uploaded media a URL from ``POST /v1/media`` names (on this server only)."""
    parts, ours = urlsplit(url), urlsplit(public_url)
    match = MEDIA_PATH.fullmatch(parts.path)
    if match is None or parts.netloc != ours.netloc:
        return None
    return match.group(1)


def _media(items: Any, param: str) -> list[dict[str, Any]]:
    if not isinstance(items, list) or not items:
        raise invalid(param, "give one video or 1 to 35 images; TikTok posts need media")
    media = []
    for index, item in enumerate(items):
        where = f"{param}[{index}]"
        if not isinstance(item, dict):
            raise invalid(where, "must be an object with type and url")
        url = item.get("url")
        if not url:
            continue  # Zernio drops an item without a url
        if not isinstance(url, str):
            raise invalid(f"{where}.url", "must be a URL")
        kind = item.get("type") or ("image" if looks_like_image(url) else "video")
        if kind not in ("image", "video"):
            raise invalid(
                f"{where}.type", f"{kind!r} cannot be posted to TikTok; use video or image"
            )
        video_url = extension(url) in VIDEO_EXTENSIONS
        if (kind == "video" and looks_like_image(url)) or (kind == "image" and video_url):
            raise invalid(f"{where}.type", f"{kind} contradicts the URL's extension")
        media.append({"type": kind, "url": url})
    if not media:
        raise invalid(param, "has no item with a url")
    return media


def translate(body: dict[str, Any], *, public_url: str) -> Translated:
    """ZakiPost's request for a Zernio ``POST /v1/posts`` body (TikTok only)."""
    for key in body:
        if key not in _ROOT_FIELDS:
            raise invalid(key, "is not a field of POST /v1/posts that ZakiPost takes; remove it")
    warnings = [
        f"{key} is kept by Zernio for display only; ZakiPost does not store it."
        for key in _REFERENCE_ONLY
        if body.get(key) not in (None, [], {}, "")
    ]
    platforms = body.get("platforms")
    if not isinstance(platforms, list) or not platforms:
        raise invalid("platforms", 'give one target: [{"platform": "tiktok", "accountId": ...}]')
    for index, target in enumerate(platforms):
        if not isinstance(target, dict):
            raise invalid(f"platforms[{index}]", "must be an object with platform and accountId")
        if target.get("platform") != "tiktok":
            raise PlatformNotSupported(
                f"ZakiPost publishes to TikTok only; platforms[{index}].platform is "
                f"{target.get('platform')!r}. Send the other platforms' posts elsewhere.",
                details={"param": f"platforms[{index}].platform"},
            )
    if len(platforms) > 1:
        raise invalid(
            "platforms", "ZakiPost posts to one TikTok account per post; send one post each"
        )
    target = platforms[0]
    for key in target:
        if key not in _TARGET_FIELDS:
            raise invalid(f"platforms[0].{key}", "is not supported by ZakiPost; remove it")
    account_id = target.get("accountId")
    if not isinstance(account_id, str) or not account_id:
        raise invalid("platforms[0].accountId", "is required: the id GET /v1/accounts lists")
    if body.get("isDraft"):
        raise UnsupportedFeature(
            "isDraft (a post saved in Zernio, not sent anywhere) is not supported by ZakiPost. "
            "To send the post to the creator's TikTok inbox, set tiktokSettings.draft: true.",
            details={"param": "isDraft"},
        )
    settings = _settings(body.get("tiktokSettings"), "tiktokSettings")
    settings.update(
        _settings(target.get("platformSpecificData"), "platforms[0].platformSpecificData")
    )
    inbox = _bool(settings, "draft") is True

    for flag in ("contentPreviewConfirmed", "expressConsentGiven"):
        if _bool(settings, flag) is not True:
            raise invalid(
                f"tiktokSettings.{flag}",
                "must be true: TikTok requires the user's confirmation before posting",
            )

    when = target.get("scheduledFor") or body.get("scheduledFor")
    publish_now = body.get("publishNow") is True
    scheduled_at = None
    if not publish_now:
        if when is None:
            raise invalid(
                "scheduledFor",
                "give publishNow: true or a scheduledFor time (ZakiPost keeps no unscheduled drafts)",
            )
        moment = _when(when, body.get("timezone"), "scheduledFor")
        scheduled_at = moment if moment > utcnow() else None

    media = _media(target.get("customMedia") or body.get("mediaItems"), "mediaItems")
    content = target.get("customContent") or body.get("content") or ""
    if not isinstance(content, str):
        raise invalid("content", "must be text")
    kinds = {item["type"] for item in media}
    if len(kinds) > 1:
        raise invalid("mediaItems", "a TikTok post is one video or only images, not both")
    media_type = settings.get("mediaType")
    photo = kinds == {"image"}
    if media_type is not None and media_type != ("photo" if photo else "video"):
        raise invalid("tiktokSettings.mediaType", f"is {media_type!r} but the media are not")

    if inbox and not photo and content:
        warnings.append(
            "content is not sent to TikTok for an inbox draft: the creator writes the caption "
            "in the TikTok app."
        )
    common: dict[str, Any] = {
        "tiktok_account_id": account_id,
        "post_mode": "draft" if inbox else "direct",
        "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
        "ai_generated_content": _bool(settings, "videoMadeWithAi") or False,
    }
    if not inbox:
        common.update(_direct_fields(settings))
    urls = [item["url"] for item in media]
    media_ids = [media_id_in(url, public_url) for url in urls]
    if photo:
        fields: dict[str, Any] = {**common}
        if all(media_ids):
            fields["media_ids"] = media_ids
        elif any(media_ids):
            raise invalid("mediaItems", "mix uploaded media and URLs in separate posts")
        else:
            fields["photo_urls"] = urls
        description = settings.get("description")
        # Zernio: content is the photo title (cut to 90), description the caption.
        if content:
            fields["title"] = shorten(content, PHOTO_TITLE_LIMIT)
        if description is not None or content:
            fields["description"] = description if description is not None else content
        if settings.get("photoCoverIndex") is not None:
            fields["photo_cover_index"] = settings["photoCoverIndex"]
        if not inbox and settings.get("autoAddMusic") is not None:
            fields["auto_add_music"] = settings["autoAddMusic"]
        request: PublishRequest = build(PhotoPublishRequest, _drop_none(fields), FIELD_NAMES)
    else:
        if len(media) != 1:
            raise invalid("mediaItems", "a TikTok video post has exactly one video")
        fields = {**common}
        if media_ids[0]:
            fields["media_id"] = media_ids[0]
        else:
            fields["video_url"] = urls[0]
        if not inbox:
            if content:
                fields["title"] = content
            for theirs, ours in (("allowDuet", "disable_duet"), ("allowStitch", "disable_stitch")):
                allowed = _bool(settings, theirs)
                if allowed is not None:
                    fields[ours] = not allowed
            if settings.get("videoCoverTimestampMs") is not None:
                fields["video_cover_timestamp_ms"] = settings["videoCoverTimestampMs"]
        if inbox:
            fields.pop("ai_generated_content", None)
        request = build(VideoPublishRequest, _drop_none(fields), FIELD_NAMES)
    return Translated(request, media, warnings)


def _direct_fields(settings: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if settings.get("privacyLevel") is not None:
        fields["privacy_level"] = settings["privacyLevel"]
    allow_comment = _bool(settings, "allowComment")
    if allow_comment is not None:
        fields["disable_comment"] = not allow_comment
    kind = settings.get("commercialContentType")
    if kind not in (None, "none", "brand_organic", "brand_content"):
        raise invalid(
            "tiktokSettings.commercialContentType", "must be none, brand_organic or brand_content"
        )
    brand_content = kind == "brand_content"
    brand_organic = kind == "brand_organic"
    if _bool(settings, "brandPartnerPromote") is not None:
        brand_content = bool(settings["brandPartnerPromote"])
    if _bool(settings, "isBrandOrganicPost") is not None:
        brand_organic = bool(settings["isBrandOrganicPost"])
    if brand_content:
        fields["brand_content_toggle"] = True
    if brand_organic:
        fields["brand_organic_toggle"] = True
    return fields


def _drop_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def reschedule_time(body: dict[str, Any]) -> dt.datetime:
    """The new time of a ``PUT /v1/posts/{id}``: ZakiPost changes only the schedule."""
    other = sorted(key for key in body if key not in ("scheduledFor", "timezone"))
    if other:
        raise UnsupportedFeature(
            f"ZakiPost changes only scheduledFor on an accepted post, not {', '.join(other)}; "
            "delete the post and create it again instead.",
            details={"param": other[0]},
        )
    if body.get("scheduledFor") is None:
        raise invalid("scheduledFor", "is required")
    moment = _when(body["scheduledFor"], body.get("timezone"), "scheduledFor")
    return _checked_schedule(moment)


def _checked_schedule(moment: dt.datetime) -> dt.datetime:
    try:
        checked = ScheduleChange(scheduled_at=moment).scheduled_at
    except ValidationError as exc:
        message = str(exc.errors()[0].get("msg", "is invalid")).removeprefix("Value error, ")
        raise invalid("scheduledFor", message) from None
    return checked
