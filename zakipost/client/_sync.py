"""The blocking client (:class:`Client`), over ``httpx.Client``."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from zakipost.client import _ops
from zakipost.client import models as m
from zakipost.client._base import ClientConfig, RetryPolicy, default_clock
from zakipost.client._ops import (
    DEFAULT_CHUNK_SIZE,
    READ_BLOCK,
    Call,
    FileBody,
    Op,
    ProgressCallback,
    Reply,
    Sleep,
    reply_of,
)
from zakipost.client.errors import TransportError, error_for

T = TypeVar("T")


def _read(body: FileBody) -> Iterator[bytes]:
    with open(body.path, "rb") as file:
        file.seek(body.offset)
        left, sent = body.length, 0
        while left > 0:
            block = file.read(min(READ_BLOCK, left))
            if not block:
                raise TransportError(f"{body.path} got shorter while it was being sent.")
            left -= len(block)
            sent += len(block)
            if body.progress is not None:
                body.progress(body.offset + sent, body.total)
            yield block


class Client:
    """ZakiPost's API, blocking. Configured by arguments, else ``ZAKIPOST_API_URL``,
    ``ZAKIPOST_CLIENT_KEY`` and ``ZAKIPOST_CLIENT_SECRET`` (or ``ZAKIPOST_API_KEY``).

    ``transport`` replaces httpx's (tests, proxies); ``sleep`` and ``clock`` replace
    ``time.sleep`` and ``time.monotonic`` for the retries and :meth:`wait`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        client_key: str | None = None,
        client_secret: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = ClientConfig.resolve(
            base_url=base_url, client_key=client_key, client_secret=client_secret, api_key=api_key
        )
        self._http = httpx.Client(
            base_url=self.config.base_url,
            headers=self.config.headers,
            timeout=timeout,
            transport=transport,
        )
        self._retry = RetryPolicy(max_retries=max_retries)
        self._sleep = sleep or time.sleep
        self._clock = clock or default_clock

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, op: Op[T]) -> T:
        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    self._sleep(step.seconds)
                    step = op.send(None)
                else:
                    step = op.send(self._send(step))
        except StopIteration as done:
            result: T = done.value
            return result

    def _send(self, call: Call) -> Reply:
        attempt = 0
        while True:
            headers = dict(call.headers)
            content = None
            if call.body is not None:
                headers["Content-Length"] = str(call.body.length)
                content = _read(call.body)
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.json,
                    content=content,
                    headers=headers,
                )
            except httpx.TransportError as exc:
                if not self._retry.should_retry(call, attempt, None):
                    raise TransportError(
                        f"Could not reach ZakiPost at {self.config.base_url}: {exc}",
                        code="transport_error",
                    ) from exc
                self._sleep(self._retry.delay(attempt, None))
                attempt += 1
                continue
            if response.is_success:
                return reply_of(response)
            if not self._retry.should_retry(call, attempt, response):
                raise error_for(response)
            self._sleep(self._retry.delay(attempt, response))
            attempt += 1

    def iter_posts(
        self,
        *,
        status: str | None = None,
        tiktok_account_id: str | None = None,
        page_size: int = 100,
    ) -> Iterator[m.PostOut]:
        """Every post, newest first, page after page."""
        cursor = None
        while True:
            page = self.list_posts(
                status=status, tiktok_account_id=tiktok_account_id, limit=page_size, cursor=cursor
            )
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def wait(
        self,
        publish_id: str,
        *,
        timeout: float = 600.0,
        poll_interval: float = 2.0,
        max_interval: float = 30.0,
        on_update: Callable[[m.PostOut], None] | None = None,
    ) -> m.PostOut:
        """Follow a post until it is published, in the inbox, failed or cancelled, and
        return it; :class:`~zakipost.client.errors.WaitTimeout` after ``timeout`` seconds.
        ``on_update`` gets the post each time its status, step or timeline changed."""
        return self._run(
            _ops.wait(
                publish_id,
                timeout=timeout,
                poll_interval=poll_interval,
                max_interval=max_interval,
                on_update=on_update,
                clock=self._clock,
            )
        )

    def account(self) -> m.AccountOverview:
        """The calling account: plan, points balance, publish cost, client key."""
        return self._run(_ops.account())

    def points(self, *, limit: int | None = None, offset: int | None = None) -> m.PointsOut:
        """Points balance and ledger (newest first)."""
        return self._run(_ops.points(limit, offset))

    def rotate_credentials(self) -> m.CredentialsOut:
        """Replace the fixed key pair; the old pair stops working at once."""
        return self._run(_ops.rotate_credentials())

    def list_keys(self) -> list[m.ApiKeyOut]:
        """The named API keys."""
        return self._run(_ops.list_keys())

    def create_key(self, name: str) -> m.ApiKeyCreated:
        """Create a named key; ``key`` is shown only in this answer."""
        return self._run(_ops.create_key(name))

    def revoke_key(self, key_id: uuid.UUID | str) -> m.ApiKeyOut:
        """Revoke a named key."""
        return self._run(_ops.revoke_key(key_id))

    def connect(self, redirect_url: str | None = None) -> m.ConnectStarted:
        """Start Connect TikTok: send the user to ``authorize_url`` (TikTok's consent screen)."""
        return self._run(_ops.connect(redirect_url))

    def list_accounts(self) -> list[m.TikTokAccountOut]:
        """The connected TikTok accounts, with cached creator info."""
        return self._run(_ops.list_accounts())

    def get_account(self, tiktok_account_id: uuid.UUID | str) -> m.TikTokAccountOut:
        """One connected account, with creator info fetched fresh from TikTok."""
        return self._run(_ops.get_account(tiktok_account_id))

    def creator_info(self, tiktok_account_id: uuid.UUID | str) -> m.CreatorCapabilities:
        """What the creator may do now (privacy options, interactions, max duration); read it
        before publishing: the privacy level must be one of ``privacy_level_options``."""
        return self._run(_ops.creator_info(tiktok_account_id))

    def disconnect(self, tiktok_account_id: uuid.UUID | str) -> m.TikTokAccountOut:
        """Disconnect: revoke at TikTok and delete the stored tokens."""
        return self._run(_ops.disconnect(tiktok_account_id))

    def publish_video(
        self,
        tiktok_account_id: uuid.UUID | str,
        *,
        video_url: str | None = None,
        media_id: str | None = None,
        title: str | None = None,
        privacy_level: str | None = None,
        draft: bool = False,
        scheduled_at: dt.datetime | str | None = None,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> m.PublishAccepted:
        """Publish a video from ``video_url`` or an uploaded ``media_id``. ``options`` are the
        other fields of ``POST /v1/tiktok/publish`` (``disable_comment``, ``disable_duet``,
        ``disable_stitch``, ``ai_generated_content``, ``brand_content_toggle``,
        ``brand_organic_toggle``, ``video_cover_timestamp_ms``, ``on_daily_cap``). An
        ``Idempotency-Key`` is sent (a fresh one unless given), the same on every retry."""
        return self._run(
            _ops.publish_video(
                tiktok_account_id,
                video_url=video_url,
                media_id=media_id,
                title=title,
                privacy_level=privacy_level,
                draft=draft,
                scheduled_at=scheduled_at,
                idempotency_key=idempotency_key,
                options=options,
            )
        )

    def publish_photos(
        self,
        tiktok_account_id: uuid.UUID | str,
        *,
        photo_urls: list[str] | None = None,
        media_ids: list[str] | None = None,
        title: str | None = None,
        description: str | None = None,
        privacy_level: str | None = None,
        draft: bool = False,
        scheduled_at: dt.datetime | str | None = None,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> m.PublishAccepted:
        """Publish a photo carousel (1 to 35 images) from URLs or uploaded media ids."""
        return self._run(
            _ops.publish_photos(
                tiktok_account_id,
                photo_urls=photo_urls,
                media_ids=media_ids,
                title=title,
                description=description,
                privacy_level=privacy_level,
                draft=draft,
                scheduled_at=scheduled_at,
                idempotency_key=idempotency_key,
                options=options,
            )
        )

    def publish_file(
        self,
        path: str | os.PathLike[str],
        tiktok_account_id: uuid.UUID | str,
        *,
        title: str | None = None,
        privacy_level: str | None = None,
        draft: bool = False,
        scheduled_at: dt.datetime | str | None = None,
        idempotency_key: str | None = None,
        content_type: str | None = None,
        progress: ProgressCallback | None = None,
        **options: Any,
    ) -> m.PublishAccepted:
        """Upload a local video or photo (with ``progress``), then publish it."""
        return self._run(
            _ops.publish_file(
                path,
                tiktok_account_id,
                title=title,
                privacy_level=privacy_level,
                draft=draft,
                scheduled_at=scheduled_at,
                idempotency_key=idempotency_key,
                content_type=content_type,
                progress=progress,
                options=options,
            )
        )

    def list_posts(
        self,
        *,
        status: str | None = None,
        tiktok_account_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> m.PostPage:
        """One page of the caller's posts, newest first; pass ``next_cursor`` for the next."""
        return self._run(_ops.list_posts(status, tiktok_account_id, limit, cursor))

    def get_post(self, publish_id: str) -> m.PostOut:
        """A post's status, TikTok's ids, the error if any, and its timeline."""
        return self._run(_ops.get_post(publish_id))

    def cancel_post(self, publish_id: str) -> m.PostOut:
        """Cancel a post that has not reached TikTok yet (its points are refunded)."""
        return self._run(_ops.cancel_post(publish_id))

    def reschedule_post(self, publish_id: str, scheduled_at: dt.datetime | str) -> m.PostOut:
        """Move a post that has not reached TikTok yet to another time."""
        return self._run(_ops.reschedule_post(publish_id, scheduled_at))

    def upload(
        self,
        path: str | os.PathLike[str],
        *,
        content_type: str | None = None,
        filename: str | None = None,
        progress: ProgressCallback | None = None,
        resumable: bool | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> m.MediaOut:
        """Upload a local file, streamed from disk: in one request, or in ``chunk_size`` chunks
        (a resumable upload) when ``resumable`` is true or the file is over 64 MiB.
        ``progress(sent, total)`` is called as it goes."""
        return self._run(
            _ops.upload(
                path,
                content_type=content_type,
                filename=filename,
                progress=progress,
                resumable=resumable,
                chunk_size=chunk_size,
            )
        )

    def resume_upload(
        self,
        media_id: str,
        path: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> m.MediaOut:
        """Go on with an interrupted resumable upload from where the server got."""
        return self._run(
            _ops.resume_upload(media_id, path, progress=progress, chunk_size=chunk_size)
        )

    def presign(
        self, content_type: str, *, size: int | None = None, filename: str | None = None
    ) -> m.PresignedOut:
        """A presigned URL to PUT the file straight to the bucket (S3-compatible store only),
        then :meth:`complete_upload`."""
        return self._run(_ops.presign(content_type, size, filename))

    def complete_upload(self, media_id: str) -> m.MediaOut:
        """Finish a presigned (or interrupted resumable) upload."""
        return self._run(_ops.complete_upload(media_id))

    def get_media(self, media_id: str) -> m.MediaOut:
        """Uploaded media."""
        return self._run(_ops.get_media(media_id))

    def delete_media(self, media_id: str) -> m.MediaOut:
        """Delete uploaded media now."""
        return self._run(_ops.delete_media(media_id))

    def create_webhook(
        self, url: str, *, events: list[str] | None = None, description: str | None = None
    ) -> m.WebhookCreated:
        """Add a webhook endpoint; ``secret`` (shown once) verifies its deliveries."""
        return self._run(_ops.create_webhook(url, events, description))

    def list_webhooks(self) -> list[m.WebhookEndpoint]:
        """The webhook endpoints."""
        return self._run(_ops.list_webhooks())

    def get_webhook(self, webhook_id: uuid.UUID | str) -> m.WebhookEndpoint:
        """One webhook endpoint."""
        return self._run(_ops.get_webhook(webhook_id))

    def update_webhook(self, webhook_id: uuid.UUID | str, **changes: Any) -> m.WebhookCreated:
        """Change ``url``, ``events``, ``description``, ``enabled``; ``rotate_secret=True``
        (with ``overlap_seconds``) returns the new ``secret`` once."""
        return self._run(_ops.update_webhook(webhook_id, changes))

    def delete_webhook(self, webhook_id: uuid.UUID | str) -> None:
        """Delete a webhook endpoint."""
        return self._run(_ops.delete_webhook(webhook_id))

    def list_deliveries(
        self, webhook_id: uuid.UUID | str, *, limit: int | None = None, cursor: str | None = None
    ) -> m.WebhookDeliveryPage:
        """An endpoint's deliveries, newest first, a page at a time."""
        return self._run(_ops.list_deliveries(webhook_id, limit, cursor))

    def retry_delivery(self, webhook_id: uuid.UUID | str, delivery_id: uuid.UUID | str) -> Any:
        """Send a delivery again now."""
        return self._run(_ops.retry_delivery(webhook_id, delivery_id))

    def test_webhook(self, webhook_id: uuid.UUID | str) -> Any:
        """Send a test event to the endpoint."""
        return self._run(_ops.test_webhook(webhook_id))
