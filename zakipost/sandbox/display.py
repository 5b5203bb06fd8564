"""Display API: `/v2/user/info/`, `/v2/video/list/`, `/v2/video/query/` (api-facts.md §7).

Videos are the creator's public posts that passed moderation, newest first; those made
through Direct Post (or posted publicly from an inbox draft) show up here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .accounts import Auth
from .errors import ApiError, InvalidParams
from .models import Creator, Post, Publish
from .state import Sandbox
from .web import authenticate, base_url, json_body, ok, sandbox_of

USER_FIELDS: dict[str, str] = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic",
    "avatar_large_url": "user.info.basic",
    "display_name": "user.info.basic",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "username": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}
VIDEO_FIELDS = (
    "id",
    "create_time",
    "cover_image_url",
    "share_url",
    "video_description",
    "duration",
    "height",
    "width",
    "title",
    "embed_html",
    "embed_link",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
)
MAX_COUNT = 20


def _fields(request: Request, allowed: tuple[str, ...] | dict[str, str]) -> list[str]:
    raw = request.query_params.get("fields")
    if not raw:
        raise InvalidParams("The fields parameter is required")
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    unknown = [f for f in fields if f not in allowed]
    if not fields or unknown:
        raise InvalidParams(f"Invalid fields: {','.join(unknown) or raw}")
    return fields


def public_videos(sb: Sandbox, open_id: str) -> list[tuple[Publish, Post]]:
    found = [
        (p, post)
        for p in sb.publishing.publishes.values()
        if p.open_id == open_id and p.media_type == "VIDEO"
        for post in p.posts
        if post.publicly_available
    ]
    return sorted(found, key=lambda item: item[1].created_ms, reverse=True)


def _video_object(
    sb: Sandbox, base: str, creator: Creator, p: Publish, post: Post
) -> dict[str, Any]:
    vid = str(post.post_id)
    utm = f"utm_campaign=tt4d_open_api&utm_source={sb.config.client_key}"
    share = f"https://www.tiktok.com/@{creator.username}/video/{vid}?{utm}"
    embed = f"https://www.tiktok.com/player/v1/{vid}?{utm}"
    title = str(p.post_info.get("title") or "")
    meta = p.video_meta
    return {
        "id": vid,
        "create_time": post.created_ms // 1000,
        "cover_image_url": f"{base}_sandbox/covers/{vid}.jpg",
        "share_url": share,
        "video_description": title[:150],
        "duration": round(float(meta.get("duration", 0))),
        "height": int(meta.get("height", 0)),
        "width": int(meta.get("width", 0)),
        "title": title[:150],
        "embed_html": (
            f'<blockquote class="tiktok-embed" cite="{share}" data-video-id="{vid}">'
            f"<section></section></blockquote>"
        ),
        "embed_link": embed,
        "like_count": 0,
        "comment_count": 0,
        "share_count": 0,
        "view_count": 0,
    }


async def user_info(request: Request) -> JSONResponse:
    sb = sandbox_of(request)
    auth = authenticate(request, "user.info")
    fields = _fields(request, USER_FIELDS)
    missing = sorted({USER_FIELDS[f] for f in fields} - set(auth.grant.scopes))
    if missing:
        raise ApiError(
            "scope_permission_missed",
            f"The fields require additional scopes: {','.join(missing)}",
        )
    creator = auth.creator
    avatar = f"{base_url(request)}_sandbox/avatars/{creator.username}.jpg"
    values: dict[str, Any] = {
        "open_id": creator.open_id,
        "union_id": creator.union_id,
        "avatar_url": avatar,
        "avatar_url_100": avatar + "?size=100",
        "avatar_large_url": avatar + "?size=720",
        "display_name": creator.nickname,
        "bio_description": creator.bio_description,
        "profile_deep_link": f"https://www.tiktok.com/@{creator.username}"
        f"?utm_campaign=tt4d_open_api&utm_source={sb.config.client_key}",
        "is_verified": creator.is_verified,
        "username": creator.username,
        "follower_count": creator.follower_count,
        "following_count": creator.following_count,
        "likes_count": creator.likes_count,
        "video_count": len(public_videos(sb, creator.open_id)),
    }
    return ok(sb, {"user": {f: values[f] for f in fields}})


def _int_field(body: dict[str, Any], key: str, default: int | None) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(f"The {key} field must be an integer")
    return value


def _list_auth(request: Request, endpoint: str) -> Auth:
    return authenticate(request, endpoint, ("video.list",))


async def video_list(request: Request) -> JSONResponse:
    sb = sandbox_of(request)
    auth = _list_auth(request, "video.list")
    fields = _fields(request, VIDEO_FIELDS)
    body = await json_body(request, allow_empty=True)
    max_count = _int_field(body, "max_count", 10)
    cursor = _int_field(body, "cursor", None)
    if max_count is None or not 1 <= max_count <= MAX_COUNT:
        raise InvalidParams(f"The max_count must be between 1 and {MAX_COUNT}")
    if cursor is not None and cursor < 0:
        raise InvalidParams("The cursor must be a non-negative integer")
    items = public_videos(sb, auth.creator.open_id)
    if cursor is not None:
        items = [(p, post) for p, post in items if post.created_ms < cursor]
    page = items[:max_count]
    base = base_url(request)
    videos = [
        {f: obj[f] for f in fields}
        for obj in (_video_object(sb, base, auth.creator, p, post) for p, post in page)
    ]
    next_cursor = page[-1][1].created_ms if page else (cursor if cursor is not None else 0)
    return ok(sb, {"videos": videos, "cursor": next_cursor, "has_more": len(items) > len(page)})


async def video_query(request: Request) -> JSONResponse:
    sb = sandbox_of(request)
    auth = _list_auth(request, "video.query")
    fields = _fields(request, VIDEO_FIELDS)
    body = await json_body(request)
    filters = body.get("filters")
    ids = filters.get("video_ids") if isinstance(filters, dict) else None
    if (
        not isinstance(ids, list)
        or not ids
        or len(ids) > MAX_COUNT
        or not all(isinstance(i, str) and i for i in ids)
    ):
        raise InvalidParams(f"The filters.video_ids must list 1 to {MAX_COUNT} video ids")
    wanted = set(ids)
    base = base_url(request)
    videos = [
        {f: obj[f] for f in fields}
        for obj in (
            _video_object(sb, base, auth.creator, p, post)
            for p, post in public_videos(sb, auth.creator.open_id)
            if str(post.post_id) in wanted
        )
    ]
    return ok(sb, {"videos": videos, "cursor": 0, "has_more": False})


routes = [
    Route("/v2/user/info/", user_info, methods=["GET"]),
    Route("/v2/video/list/", video_list, methods=["POST"]),
    Route("/v2/video/query/", video_query, methods=["POST"]),
]
