"""Every API operation written once, as a generator the two clients drive.

An operation yields :class:`Call` (an HTTP request; the client sends it, with its retries,
and sends back the :class:`Reply`) or :class:`Sleep`, and returns its result. So
:class:`~zakipost.client.Client` and :class:`~zakipost.client.AsyncClient` share every
rule (paths, bodies, pagination, chunking, waiting) and differ only in how they do I/O.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import os
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pydantic

from zakipost.client import models as m
from zakipost.client.errors import ValidationError, WaitTimeout, ZakiPostError, retry_after

T = TypeVar("T")

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes sent so far, total bytes) as an upload goes."""

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
RESUMABLE_THRESHOLD = 64 * 1024 * 1024
"""Files larger than this go up in chunks (resumable) unless told otherwise."""
READ_BLOCK = 256 * 1024


@dataclass(frozen=True)
class FileBody:
    """``length`` bytes of a local file from ``offset``, streamed (never read whole)."""

    path: Path
    offset: int
    length: int
    total: int
    progress: ProgressCallback | None = None


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    body: FileBody | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Safe to send again after a 5xx or a lost connection: reads, deletes, chunk PUTs and
    # publishes (they carry an Idempotency-Key). A 429 is always retried: nothing was done.
    idempotent: bool = True


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Reply:
    data: Any
    message: str
    headers: httpx.Headers


Step = Call | Sleep
Op = Generator[Step, Any, T]


def _seg(value: object) -> str:
    return quote(str(value), safe="")


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _validated(model: type[pydantic.BaseModel], fields: Mapping[str, Any]) -> dict[str, Any]:
    """The request body, checked with the server's own model before it is sent."""
    try:
        body = model.model_validate(dict(fields))
    except pydantic.ValidationError as exc:
        problems = [
            {
                "field": ".".join(str(p) for p in err["loc"]) or "body",
                "message": err["msg"].removeprefix("Value error, "),
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        raise ValidationError(
            f"Invalid request: {summary}", code="validation_error", details={"fields": problems}
        ) from None
    return body.model_dump(mode="json", exclude_unset=True)


def _set(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def reply_of(response: httpx.Response) -> Reply:
    if response.status_code == 204 or not response.content:
        return Reply(None, "", response.headers)  # e.g. DELETE /v1/webhooks/{id}
    body = response.json()
    if not isinstance(body, dict):
        raise ZakiPostError("The answer is not ZakiPost's envelope.", code="bad_response")
    return Reply(body.get("data"), str(body.get("message", "")), response.headers)


# Account, points, keys ---------------------------------------------------------------


def account() -> Op[m.AccountOverview]:
    reply = yield Call("GET", "/v1/account")
    return m.AccountOverview.model_validate(reply.data)


def points(limit: int | None, offset: int | None) -> Op[m.PointsOut]:
    reply = yield Call("GET", "/v1/points", params=_params(limit=limit, offset=offset))
    return m.PointsOut.model_validate(reply.data)


def rotate_credentials() -> Op[m.CredentialsOut]:
    reply = yield Call("POST", "/v1/account/credentials/rotate", idempotent=False)
    return m.CredentialsOut.model_validate(reply.data)


def list_keys() -> Op[list[m.ApiKeyOut]]:
    reply = yield Call("GET", "/v1/api-keys")
    return [m.ApiKeyOut.model_validate(k) for k in reply.data]


def create_key(name: str) -> Op[m.ApiKeyCreated]:
    reply = yield Call("POST", "/v1/api-keys", json={"name": name}, idempotent=False)
    return m.ApiKeyCreated.model_validate(reply.data)


def revoke_key(key_id: uuid.UUID | str) -> Op[m.ApiKeyOut]:
    reply = yield Call("DELETE", f"/v1/api-keys/{_seg(key_id)}")
    return m.ApiKeyOut.model_validate(reply.data)


# TikTok accounts -------------------------------------------------------------------------


def connect(redirect_url: str | None) -> Op[m.ConnectStarted]:
    body = {"redirect_url": redirect_url} if redirect_url is not None else None
    reply = yield Call("POST", "/v1/tiktok/connect", json=body, idempotent=False)
    return m.ConnectStarted.model_validate(reply.data)


def list_accounts() -> Op[list[m.TikTokAccountOut]]:
    reply = yield Call("GET", "/v1/tiktok/accounts")
    return [m.TikTokAccountOut.model_validate(a) for a in reply.data]


def get_account(tiktok_account_id: uuid.UUID | str) -> Op[m.TikTokAccountOut]:
    reply = yield Call("GET", f"/v1/tiktok/accounts/{_seg(tiktok_account_id)}")
    return m.TikTokAccountOut.model_validate(reply.data)


def creator_info(tiktok_account_id: uuid.UUID | str) -> Op[m.CreatorCapabilities]:
    found = yield from get_account(tiktok_account_id)
    if found.creator_info is None:
        raise ZakiPostError(
            f"TikTok gave no creator info for {tiktok_account_id} (status {found.status}): "
            "connect the account again.",
            code="creator_info_unavailable",
        )
    return found.creator_info


def disconnect(tiktok_account_id: uuid.UUID | str) -> Op[m.TikTokAccountOut]:
    reply = yield Call("DELETE", f"/v1/tiktok/accounts/{_seg(tiktok_account_id)}")
    return m.TikTokAccountOut.model_validate(reply.data)


# Publishing ------------------------------------------------------------------------------


def _publish(path: str, body: dict[str, Any], idempotency_key: str | None) -> Op[m.PublishAccepted]:
    # One key per publish, kept across the client's own retries: a resent request after a
    # lost answer replays the first answer instead of publishing twice.
    key = idempotency_key or f"zp-client-{uuid.uuid4()}"
    reply = yield Call("POST", path, json=body, headers={"Idempotency-Key": key})
    return m.PublishAccepted.model_validate(reply.data)


def _post_fields(
    tiktok_account_id: uuid.UUID | str,
    privacy_level: str | None,
    draft: bool,
    scheduled_at: dt.datetime | str | None,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "tiktok_account_id": str(tiktok_account_id),
        **_set(
            privacy_level=privacy_level,
            post_mode="draft" if draft else None,
            scheduled_at=scheduled_at,
        ),
        **options,
    }


def publish_video(
    tiktok_account_id: uuid.UUID | str,
    *,
    video_url: str | None,
    media_id: str | None,
    title: str | None,
    privacy_level: str | None,
    draft: bool,
    scheduled_at: dt.datetime | str | None,
    idempotency_key: str | None,
    options: Mapping[str, Any],
) -> Op[m.PublishAccepted]:
    fields = _post_fields(tiktok_account_id, privacy_level, draft, scheduled_at, options)
    fields.update(_set(video_url=video_url, media_id=media_id, title=title))
    body = _validated(m.VideoPublishRequest, fields)
    return (yield from _publish("/v1/tiktok/publish", body, idempotency_key))


def publish_photos(
    tiktok_account_id: uuid.UUID | str,
    *,
    photo_urls: list[str] | None,
    media_ids: list[str] | None,
    title: str | None,
    description: str | None,
    privacy_level: str | None,
    draft: bool,
    scheduled_at: dt.datetime | str | None,
    idempotency_key: str | None,
    options: Mapping[str, Any],
) -> Op[m.PublishAccepted]:
    fields = _post_fields(tiktok_account_id, privacy_level, draft, scheduled_at, options)
    fields.update(
        _set(photo_urls=photo_urls, media_ids=media_ids, title=title, description=description)
    )
    body = _validated(m.PhotoPublishRequest, fields)
    return (yield from _publish("/v1/tiktok/photos", body, idempotency_key))


# Posts -----------------------------------------------------------------------------------


def list_posts(
    status: str | None, tiktok_account_id: str | None, limit: int | None, cursor: str | None
) -> Op[m.PostPage]:
    params = _params(status=status, tiktok_account_id=tiktok_account_id, limit=limit, cursor=cursor)
    reply = yield Call("GET", "/v1/tiktok/publish", params=params)
    return m.PostPage.model_validate(reply.data)


def get_post(publish_id: str) -> Op[m.PostOut]:
    post, _ = yield from _get_post_and_hint(publish_id)
    return post


def _get_post_and_hint(publish_id: str) -> Op[tuple[m.PostOut, float | None]]:
    reply = yield Call("GET", f"/v1/tiktok/publish/{_seg(publish_id)}")
    return m.PostOut.model_validate(reply.data), retry_after(reply.headers)


def cancel_post(publish_id: str) -> Op[m.PostOut]:
    reply = yield Call("DELETE", f"/v1/tiktok/publish/{_seg(publish_id)}")
    return m.PostOut.model_validate(reply.data)


def reschedule_post(publish_id: str, scheduled_at: dt.datetime | str) -> Op[m.PostOut]:
    body = _validated(m.ScheduleChange, {"scheduled_at": scheduled_at})
    reply = yield Call("PATCH", f"/v1/tiktok/publish/{_seg(publish_id)}", json=body)
    return m.PostOut.model_validate(reply.data)


def _seen(post: m.PostOut) -> tuple[str, str | None, int]:
    return post.status, post.step, len(post.timeline or [])


def wait(
    publish_id: str,
    *,
    timeout: float,
    poll_interval: float,
    max_interval: float,
    on_update: Callable[[m.PostOut], None] | None,
    clock: Callable[[], float],
) -> Op[m.PostOut]:
    """Follow a post until it ends (:data:`~zakipost.client.models.FINAL_STATUSES`).

    Between reads it waits what the server suggests (``Retry-After``: until a scheduled or
    deferred post's time, or a moment while it is processed), else ``poll_interval``; never
    more than ``max_interval`` (so a reschedule is noticed) or the time left.
    """
    started = clock()
    last: tuple[str, str | None, int] | None = None
    while True:
        post, suggested = yield from _get_post_and_hint(publish_id)
        if on_update is not None and _seen(post) != last:
            on_update(post)
        last = _seen(post)
        if post.status in m.FINAL_STATUSES:
            return post
        left = timeout - (clock() - started)
        if left <= 0:
            raise WaitTimeout(
                f"Post {publish_id} is still {post.status} after {timeout:g} s.", post=post
            )
        delay = suggested if suggested is not None else poll_interval
        yield Sleep(min(max(delay, 0.0), max_interval, left))


# Media -------------------------------------------------------------------------------------


def guess_content_type(path: Path, content_type: str | None) -> str:
    if content_type:
        return content_type
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed in ("video/mp4", "video/quicktime", "video/webm", "image/jpeg", "image/png"):
        return guessed
    if path.suffix.lower() == ".webp":
        return "image/webp"
    raise ValidationError(
        f"Cannot tell the media type of {path.name!r} from its name: pass content_type "
        "(video/mp4, video/quicktime, video/webm, image/jpeg, image/png or image/webp).",
        code="validation_error",
        details={"fields": [{"field": "content_type", "message": "is required"}]},
    )


def upload(
    path: str | os.PathLike[str],
    *,
    content_type: str | None,
    filename: str | None,
    progress: ProgressCallback | None,
    resumable: bool | None,
    chunk_size: int,
) -> Op[m.MediaOut]:
    """Upload a local file: streamed in one request, or in chunks (resumable) when it is
    large or ``resumable`` says so."""
    source = Path(path)
    size = source.stat().st_size
    kind = guess_content_type(source, content_type)
    name = filename or source.name
    if resumable or (resumable is None and size > RESUMABLE_THRESHOLD):
        body = _validated(m.ResumableCreate, {"content_type": kind, "size": size, "filename": name})
        reply = yield Call("POST", "/v1/media/uploads", json=body, idempotent=False)
        media = m.MediaOut.model_validate(reply.data)
        return (yield from _send_chunks(media, source, size, progress, chunk_size))
    reply = yield Call(
        "POST",
        "/v1/media",
        params={"filename": name},
        body=FileBody(source, 0, size, size, progress),
        headers={"Content-Type": kind},
        # Each attempt re-reads the file from the start; an upload is not a publish.
        idempotent=True,
    )
    return m.MediaOut.model_validate(reply.data)


def resume_upload(
    media_id: str,
    path: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None,
    chunk_size: int,
) -> Op[m.MediaOut]:
    """Go on with an interrupted resumable upload from where the server says it got."""
    source = Path(path)
    reply = yield Call("GET", f"/v1/media/uploads/{_seg(media_id)}")
    media = m.MediaOut.model_validate(reply.data)
    size = source.stat().st_size
    return (yield from _send_chunks(media, source, size, progress, chunk_size))


def _send_chunks(
    media: m.MediaOut,
    source: Path,
    size: int,
    progress: ProgressCallback | None,
    chunk_size: int,
) -> Op[m.MediaOut]:
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    offset = media.received
    while media.status.value == "pending" and offset < size:
        length = min(chunk_size, size - offset)
        try:
            reply = yield Call(
                "PUT",
                f"/v1/media/uploads/{_seg(media.media_id)}",
                body=FileBody(source, offset, length, size, progress),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"bytes {offset}-{offset + length - 1}/{size}",
                },
            )
        except ZakiPostError as exc:
            # The server has another offset (a chunk landed but its answer was lost): go
            # on from there.
            received = exc.details.get("received")
            if exc.code == "upload_offset_mismatch" and isinstance(received, int):
                offset = received
                continue
            raise
        media = m.MediaOut.model_validate(reply.data)
        offset = media.received
    if media.status.value == "pending":
        # Every byte is there but the last chunk's answer was lost: finish it.
        reply = yield Call("POST", f"/v1/media/{_seg(media.media_id)}/complete")
        media = m.MediaOut.model_validate(reply.data)
    if progress is not None:
        progress(size, size)
    return media


def presign(content_type: str, size: int | None, filename: str | None) -> Op[m.PresignedOut]:
    body = _validated(
        m.PresignRequest, _set(content_type=content_type, size=size, filename=filename)
    )
    reply = yield Call("POST", "/v1/media/presign", json=body, idempotent=False)
    return m.PresignedOut.model_validate(reply.data)


def complete_upload(media_id: str) -> Op[m.MediaOut]:
    reply = yield Call("POST", f"/v1/media/{_seg(media_id)}/complete")
    return m.MediaOut.model_validate(reply.data)


def get_media(media_id: str) -> Op[m.MediaOut]:
    reply = yield Call("GET", f"/v1/media/{_seg(media_id)}")
    return m.MediaOut.model_validate(reply.data)


def delete_media(media_id: str) -> Op[m.MediaOut]:
    reply = yield Call("DELETE", f"/v1/media/{_seg(media_id)}")
    return m.MediaOut.model_validate(reply.data)


# Webhooks ----------------------------------------------------------------------------------


def create_webhook(
    url: str, events: list[str] | None, description: str | None
) -> Op[m.WebhookCreated]:
    body = {"url": url, "events": events, "description": description}
    reply = yield Call("POST", "/v1/webhooks", json=body, idempotent=False)
    return m.WebhookCreated.model_validate(reply.data)


def list_webhooks() -> Op[list[m.WebhookEndpoint]]:
    reply = yield Call("GET", "/v1/webhooks")
    return [m.WebhookEndpoint.model_validate(w) for w in reply.data]


def get_webhook(webhook_id: uuid.UUID | str) -> Op[m.WebhookEndpoint]:
    reply = yield Call("GET", f"/v1/webhooks/{_seg(webhook_id)}")
    return m.WebhookEndpoint.model_validate(reply.data)


def update_webhook(webhook_id: uuid.UUID | str, changes: Mapping[str, Any]) -> Op[m.WebhookCreated]:
    reply = yield Call(
        "PATCH",
        f"/v1/webhooks/{_seg(webhook_id)}",
        json=dict(changes),
        # A rotation is not to be repeated blindly: its first answer holds the new secret.
        idempotent=not changes.get("rotate_secret"),
    )
    return m.WebhookCreated.model_validate(reply.data)


def delete_webhook(webhook_id: uuid.UUID | str) -> Op[None]:
    yield Call("DELETE", f"/v1/webhooks/{_seg(webhook_id)}")


def list_deliveries(
    webhook_id: uuid.UUID | str, limit: int | None, cursor: str | None
) -> Op[m.WebhookDeliveryPage]:
    reply = yield Call(
        "GET",
        f"/v1/webhooks/{_seg(webhook_id)}/deliveries",
        params=_params(limit=limit, cursor=cursor),
    )
    return m.WebhookDeliveryPage.model_validate(reply.data)


def retry_delivery(webhook_id: uuid.UUID | str, delivery_id: uuid.UUID | str) -> Op[Any]:
    reply = yield Call(
        "POST",
        f"/v1/webhooks/{_seg(webhook_id)}/deliveries/{_seg(delivery_id)}/retry",
        idempotent=False,
    )
    return _delivery_or_data(reply.data)


def test_webhook(webhook_id: uuid.UUID | str) -> Op[Any]:
    reply = yield Call("POST", f"/v1/webhooks/{_seg(webhook_id)}/test", idempotent=False)
    return _delivery_or_data(reply.data)


def _delivery_or_data(data: Any) -> Any:
    """A delivery when the answer is one, else the answer's data as it came."""
    try:
        return m.WebhookDelivery.model_validate(data)
    except pydantic.ValidationError:
        return data


def publish_file(
    path: str | os.PathLike[str],
    tiktok_account_id: uuid.UUID | str,
    *,
    title: str | None,
    privacy_level: str | None,
    draft: bool,
    scheduled_at: dt.datetime | str | None,
    idempotency_key: str | None,
    content_type: str | None,
    progress: ProgressCallback | None,
    options: Mapping[str, Any],
) -> Op[m.PublishAccepted]:
    """Upload a local video or photo, then publish it by its media id."""
    media = yield from upload(
        path,
        content_type=content_type,
        filename=None,
        progress=progress,
        resumable=None,
        chunk_size=DEFAULT_CHUNK_SIZE,
    )
    if media.kind.value == "photo":
        return (
            yield from publish_photos(
                tiktok_account_id,
                photo_urls=None,
                media_ids=[media.media_id],
                title=title,
                description=None,
                privacy_level=privacy_level,
                draft=draft,
                scheduled_at=scheduled_at,
                idempotency_key=idempotency_key,
                options=options,
            )
        )
    return (
        yield from publish_video(
            tiktok_account_id,
            video_url=None,
            media_id=media.media_id,
            title=title,
            privacy_level=privacy_level,
            draft=draft,
            scheduled_at=scheduled_at,
            idempotency_key=idempotency_key,
            options=options,
        )
    )
