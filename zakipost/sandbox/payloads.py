"""Parsing of Content Posting request bodies into plain values; bad input -> `invalid_params`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .chunks import chunk_plan_error
from .config import SandboxConfig
from .errors import InvalidParams

VIDEO_TITLE_MAX = 2200
PHOTO_TITLE_MAX = 90
PHOTO_DESCRIPTION_MAX = 4000
MAX_PHOTOS = 35

POST_INFO_ERROR = "The request post info is empty or incorrect"
SOURCE_INFO_ERROR = "The request source info is empty or incorrect"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit TikTok counts caption limits in."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class SourceInfo:
    source: str
    video_size: int | None = None
    chunk_size: int | None = None
    total_chunk_count: int | None = None
    video_url: str | None = None
    photo_images: list[str] = field(default_factory=list)
    photo_cover_index: int | None = None


@dataclass
class PostInfo:
    values: dict[str, Any]

    @property
    def privacy_level(self) -> str | None:
        value = self.values.get("privacy_level")
        return value if isinstance(value, str) else None


def _object(body: dict[str, Any], key: str, message: str) -> dict[str, Any]:
    value = body.get(key)
    if not isinstance(value, dict):
        raise InvalidParams(message)
    return value


def _int(obj: dict[str, Any], key: str, message: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(message)
    return value


def _optional_bool(obj: dict[str, Any], key: str) -> bool | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidParams(f"The {key} field must be a boolean")
    return value


def _optional_text(obj: dict[str, Any], key: str, limit: int) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParams(f"The {key} field must be a string")
    if utf16_len(value) > limit:
        raise InvalidParams(f"The {key} exceeds the maximum length of {limit} characters")
    return value


def _privacy(post_info: dict[str, Any]) -> None:
    value = post_info.get("privacy_level")
    if value is not None and not isinstance(value, str):
        raise InvalidParams("The privacy_level field must be a string")


def parse_video_post_info(body: dict[str, Any], config: SandboxConfig) -> PostInfo:
    post_info = _object(body, "post_info", POST_INFO_ERROR)
    _privacy(post_info)
    values: dict[str, Any] = {"privacy_level": post_info.get("privacy_level")}
    values["title"] = _optional_text(post_info, "title", VIDEO_TITLE_MAX)
    for key in (
        "disable_duet",
        "disable_stitch",
        "disable_comment",
        "brand_content_toggle",
        "brand_organic_toggle",
        "is_aigc",
    ):
        values[key] = _optional_bool(post_info, key)
    if config.require_brand_content_toggle and values["brand_content_toggle"] is None:
        raise InvalidParams("The brand_content_toggle field is required")
    cover = post_info.get("video_cover_timestamp_ms")
    if cover is not None and (isinstance(cover, bool) or not isinstance(cover, int) or cover < 0):
        raise InvalidParams("The video_cover_timestamp_ms field must be a non-negative integer")
    values["video_cover_timestamp_ms"] = cover
    return PostInfo(values)


def parse_video_source_info(body: dict[str, Any], config: SandboxConfig) -> SourceInfo:
    source_info = _object(body, "source_info", SOURCE_INFO_ERROR)
    source = source_info.get("source")
    if source == "FILE_UPLOAD":
        size = _int(source_info, "video_size", "The video size is invalid")
        chunk = _int(source_info, "chunk_size", "The chunk size is invalid")
        count = _int(source_info, "total_chunk_count", "The total chunk count is invalid")
        problem = chunk_plan_error(size, chunk, count, config.mb_unit)
        if problem:
            raise InvalidParams(problem)
        return SourceInfo(source, video_size=size, chunk_size=chunk, total_chunk_count=count)
    if source == "PULL_FROM_URL":
        url = source_info.get("video_url")
        if not isinstance(url, str) or not url:
            raise InvalidParams("The video_url is invalid")
        return SourceInfo(source, video_url=url)
    raise InvalidParams("The source is invalid: expected FILE_UPLOAD or PULL_FROM_URL")


@dataclass
class PhotoInit:
    post_mode: str
    post_info: PostInfo
    source_info: SourceInfo
    is_aigc: bool


def parse_photo_init(body: dict[str, Any], config: SandboxConfig) -> PhotoInit:
    if body.get("media_type") != "PHOTO":
        raise InvalidParams("The media_type is invalid: only PHOTO is supported")
    mode = body.get("post_mode")
    if mode not in ("DIRECT_POST", "MEDIA_UPLOAD"):
        raise InvalidParams("The post_mode is invalid: expected DIRECT_POST or MEDIA_UPLOAD")
    post_info = _object(body, "post_info", POST_INFO_ERROR)
    _privacy(post_info)
    values: dict[str, Any] = {"privacy_level": post_info.get("privacy_level")}
    values["title"] = _optional_text(post_info, "title", PHOTO_TITLE_MAX)
    values["description"] = _optional_text(post_info, "description", PHOTO_DESCRIPTION_MAX)
    for key in (
        "disable_comment",
        "auto_add_music",
        "brand_content_toggle",
        "brand_organic_toggle",
    ):
        values[key] = _optional_bool(post_info, key)
    if mode == "DIRECT_POST" and config.require_brand_content_toggle:
        for key in ("brand_content_toggle", "brand_organic_toggle"):
            if values[key] is None:
                raise InvalidParams(f"The {key} field is required")
    is_aigc = _optional_bool(body, "is_aigc") or False

    source_info = _object(body, "source_info", SOURCE_INFO_ERROR)
    if source_info.get("source") != "PULL_FROM_URL":
        raise InvalidParams("The source is invalid: photos only support PULL_FROM_URL")
    images = source_info.get("photo_images")
    if (
        not isinstance(images, list)
        or not images
        or not all(isinstance(u, str) and u for u in images)
    ):
        raise InvalidParams("The photo_images field is invalid")
    if len(images) > MAX_PHOTOS:
        raise InvalidParams(f"The photo_images field exceeds the maximum of {MAX_PHOTOS} images")
    cover = _int(source_info, "photo_cover_index", "The photo_cover_index is invalid")
    if not 0 <= cover < len(images):
        raise InvalidParams("The photo_cover_index is out of range")
    source = SourceInfo("PULL_FROM_URL", photo_images=list(images), photo_cover_index=cover)
    return PhotoInit(mode, PostInfo(values), source, is_aigc)
