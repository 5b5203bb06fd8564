"""ZakiPost's posts, accounts and media in the shapes Zernio's SDK models parse
(``Post``/``PlatformTarget``, ``SocialAccount``, ``UploadedFile``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from zakipost.models import Connection, ConnectionStatus, MediaObject, Post, PostMode
from zakipost.publishing.states import PostStatus

# ZakiPost's status → Zernio's post status and its TikTok target's status.
POST_STATUS: dict[PostStatus, tuple[str, str]] = {
    PostStatus.scheduled: ("scheduled", "pending"),
    PostStatus.queued: ("publishing", "processing"),
    PostStatus.deferred: ("publishing", "processing"),
    PostStatus.processing: ("publishing", "processing"),
    PostStatus.published: ("published", "published"),
    # A draft delivered to the creator's inbox is as far as an inbox post goes.
    PostStatus.in_inbox: ("published", "published"),
    PostStatus.failed: ("failed", "failed"),
    PostStatus.unknown: ("failed", "failed"),
    PostStatus.cancelled: ("cancelled", "cancelled"),
}

# Zernio's ?status= filter → the ZakiPost statuses it covers.
STATUS_FILTER: dict[str, frozenset[PostStatus]] = {
    "scheduled": frozenset({PostStatus.scheduled}),
    "publishing": frozenset({PostStatus.queued, PostStatus.deferred, PostStatus.processing}),
    "published": frozenset({PostStatus.published, PostStatus.in_inbox}),
    "failed": frozenset({PostStatus.failed, PostStatus.unknown}),
    "cancelled": frozenset({PostStatus.cancelled}),
    # Zernio's own drafts, approvals and multi-platform partials never exist here.
    "draft": frozenset(),
    "pending_approval": frozenset(),
    "partial": frozenset(),
}

_ERROR_CATEGORY = {
    "privacy_level_not_allowed": "user_content",
    "daily_cap_reached": "user_abuse",
    "reconnect_required": "auth_expired",
    "missing_scope": "auth_expired",
}


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def media_url(public_url: str, media_id: str) -> str:
    return f"{public_url.rstrip('/')}/compat/zernio/api/v1/media/{media_id}"


def _media_items(post: Post) -> list[dict[str, Any]]:
    if post.kind.value == "video":
        return [{"type": "video", "url": post.video_url}] if post.video_url else [{"type": "video"}]
    return [
        {"type": "image", "url": photo.url} if photo.url else {"type": "image"}
        for photo in post.request.photos
    ]


def _error_category(post: Post) -> str:
    if post.status is PostStatus.unknown:
        return "unknown"
    if post.error_code in _ERROR_CATEGORY:
        return _ERROR_CATEGORY[post.error_code]
    return "platform_error" if post.error_retryable else "platform_rejected"


def post_out(post: Post, account_id: str) -> dict[str, Any]:
    status, target_status = POST_STATUS[post.status]
    target: dict[str, Any] = {
        "platform": "tiktok",
        "accountId": account_id,
        "status": target_status,
    }
    settings: dict[str, Any] = {"draft": post.post_mode is PostMode.draft}
    if post.privacy_level:
        settings["privacyLevel"] = post.privacy_level
    if post.description:
        settings["description"] = post.description
    target["platformSpecificData"] = settings
    if post.tiktok_post_ids:
        target["platformPostId"] = str(post.tiktok_post_ids[0])
    if post.status in (PostStatus.published, PostStatus.in_inbox):
        target["publishedAt"] = _iso(post.finished_at)
    if post.status in (PostStatus.failed, PostStatus.unknown):
        target["errorMessage"] = post.error_message or (
            "ZakiPost could not learn whether TikTok published this post; check the TikTok "
            "profile before posting it again."
            if post.status is PostStatus.unknown
            else post.error_code
        )
        target["errorCategory"] = _error_category(post)
        target["errorSource"] = "user" if not post.error_retryable else "platform"
    return {
        "_id": post.publish_id,
        "content": post.title or post.description or "",
        "mediaItems": _media_items(post),
        "platforms": [target],
        "scheduledFor": _iso(post.scheduled_at or post.created_at),
        "timezone": "UTC",
        "status": status,
        "createdAt": _iso(post.created_at),
        "updatedAt": _iso(post.finished_at or post.updated_at or post.created_at),
    }


def account_out(connection: Connection, profile_id: str) -> dict[str, Any]:
    return {
        "_id": str(connection.internal_token),
        "platform": "tiktok",
        "profileId": profile_id,
        "username": connection.username,
        "displayName": connection.display_name,
        "platformUserId": connection.open_id,
        "profilePicture": connection.avatar_url,
        "profileUrl": f"https://www.tiktok.com/@{connection.username}"
        if connection.username
        else None,
        "isActive": connection.status is ConnectionStatus.active,
        "needsReconnection": connection.status is ConnectionStatus.reconnect_required,
        "enabled": True,
    }


def profile_out(profile_id: str, account_count: int) -> dict[str, Any]:
    return {
        "_id": profile_id,
        "name": "Default",
        "isDefault": True,
        "timezone": "UTC",
        "accountCount": account_count,
    }


def uploaded_file(row: MediaObject, public_url: str) -> dict[str, Any]:
    return {
        "type": "image" if row.kind.value == "photo" else "video",
        "url": media_url(public_url, row.media_id),
        "filename": row.filename,
        "size": row.size,
        "mimeType": row.content_type,
    }
