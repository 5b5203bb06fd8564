"""ZakiPost's posts and connected accounts in CodivUpload's shapes. A post carries both id
keys CodivUpload's SDK and documentation use (``id`` and ``post_id``) and its ``status``,
with the TikTok delivery in ``destinations``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from zakipost.models import Connection, ConnectionStatus, Post, PostMode
from zakipost.publishing.states import PostStatus

POST_STATUS: dict[PostStatus, str] = {
    PostStatus.scheduled: "scheduled",
    PostStatus.queued: "publishing",
    PostStatus.deferred: "publishing",
    PostStatus.processing: "publishing",
    PostStatus.published: "completed",
    PostStatus.in_inbox: "completed",
    PostStatus.failed: "failed",
    PostStatus.unknown: "failed",
    PostStatus.cancelled: "cancelled",
}

STATUS_FILTER: dict[str, frozenset[PostStatus]] = {
    "scheduled": frozenset({PostStatus.scheduled}),
    "publishing": frozenset({PostStatus.queued, PostStatus.deferred, PostStatus.processing}),
    "completed": frozenset({PostStatus.published, PostStatus.in_inbox}),
    "failed": frozenset({PostStatus.failed, PostStatus.unknown}),
    "cancelled": frozenset({PostStatus.cancelled}),
    "draft": frozenset(),  # CodivUpload's own unsent drafts never exist here
}


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def post_out(post: Post, connection: Connection | None, account_id: str) -> dict[str, Any]:
    status = POST_STATUS[post.status]
    photo = post.kind.value == "photo"
    media_urls = [p.url for p in post.request.photos if p.url] if photo else [post.video_url or ""]
    destination: dict[str, Any] = {
        "platform": "tiktok",
        "status": "in_inbox" if post.status is PostStatus.in_inbox else status,
        "post_id": str(post.tiktok_post_ids[0]) if post.tiktok_post_ids else None,
        "publish_id": post.tiktok_publish_id,
        "error": post.error_message
        if post.status in (PostStatus.failed, PostStatus.unknown)
        else None,
    }
    if post.status is PostStatus.unknown and destination["error"] is None:
        destination["error"] = (
            "ZakiPost could not learn whether TikTok published this post; check the TikTok "
            "profile before posting it again."
        )
    return {
        "id": post.publish_id,
        "post_id": post.publish_id,
        "status": status,
        "platforms": ["tiktok"],
        "profile_name": (connection.username if connection else None) or account_id,
        "tiktok_account_id": account_id,
        "post_type": "photo" if photo else "video",
        "title": post.title if photo else None,
        "description": post.description if photo else post.title,
        "media_urls": [url for url in media_urls if url],
        "tiktok_post_mode": "DRAFT" if post.post_mode is PostMode.draft else "DIRECT_POST",
        "tiktok_privacy_level": post.privacy_level,
        "scheduled_date": _iso(post.scheduled_at),
        "created_at": _iso(post.created_at),
        "published_at": _iso(post.finished_at)
        if post.status in (PostStatus.published, PostStatus.in_inbox)
        else None,
        "error": destination["error"],
        "destinations": [destination],
    }


def profile_out(connection: Connection) -> dict[str, Any]:
    active = connection.status is ConnectionStatus.active
    return {
        "id": str(connection.internal_token),
        "profile_id": str(connection.internal_token),
        "username": connection.username,
        "profile_name": connection.username or str(connection.internal_token),
        "display_name": connection.display_name,
        "avatar_url": connection.avatar_url,
        "platforms": ["tiktok"] if active else [],
        "connected_platforms": [
            {
                "platform": "tiktok",
                "username": connection.username,
                "status": connection.status.value,
            }
        ],
        "created_at": _iso(connection.created_at),
    }
