"""``TikTokClient``: one async client for TikTok's OAuth, Display and Content Posting APIs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from zakipost.tiktok import _oauth
from zakipost.tiktok._envelope import parse_model, read_api_response, read_oauth_response, redact
from zakipost.tiktok._errors import TikTokApiError, TikTokError, TikTokTransportError, outcome_label
from zakipost.tiktok._models import (
    PHOTO_COUNT_MAX,
    ChunkPlan,
    CreatorInfo,
    FileUploadSource,
    InitResult,
    PhotoPostInfo,
    PostMode,
    PublishStatus,
    PullFromUrlSource,
    TokenGrant,
    UploadOutcome,
    UserInfo,
    Video,
    VideoPage,
    VideoPostInfo,
)
from zakipost.tiktok._upload import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_RETRY_DELAYS,
    BeforeFinalChunk,
    ChunkUploader,
    MediaSource,
    ProgressCallback,
    Sleep,
)
from zakipost.tiktok._webhook import verify_webhook_signature

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
CallObserver = Callable[[str, str, float], None]
"""Told of every request: ``(endpoint, outcome, seconds)``. ``endpoint`` is the API path
(``/v2/post/publish/status/fetch/``) or ``upload`` for a chunk PUT; ``outcome`` is ``ok``
or a bounded error name (TikTok's code, ``transport_error``, ``http_503``...)."""

# Failures before any byte of the request left: TikTok cannot have handled it.
_NEVER_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


def _check_fields(fields: Sequence[str]) -> str:
    if isinstance(fields, str) or not fields:
        raise ValueError("fields must be a non-empty sequence of field names")
    return ",".join(fields)


class TikTokClient:
    """An async client for TikTok's v2 APIs over a caller-owned ``httpx.AsyncClient``.

    Pass an ``httpx.AsyncClient`` with any transport (a real network, the sandbox's ASGI app,
    or a ``MockTransport``); this client never closes it. Every method raises a
    ``TikTokError`` subclass when TikTok refuses a request, chosen from ``error.code`` (or
    the OAuth ``error``) whatever the HTTP status. Tokens and the client secret never appear
    in the messages, reprs or logs of this package.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        client_key: str,
        client_secret: str,
        api_base_url: str = "https://open.tiktokapis.com",
        auth_base_url: str = "https://www.tiktok.com",
        upload_retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        upload_block_size: int = DEFAULT_BLOCK_SIZE,
        sleep: Sleep = asyncio.sleep,
        observer: CallObserver | None = None,
    ) -> None:
        self.client_key = client_key
        self.api_base_url = api_base_url.rstrip("/")
        self.auth_base_url = auth_base_url.rstrip("/")
        self._http = http
        self._client_secret = client_secret
        self._observer = observer
        self._uploader = ChunkUploader(
            http,
            retry_delays=upload_retry_delays,
            sleep=sleep,
            block_size=upload_block_size,
            observer=observer,
        )

    def __repr__(self) -> str:
        return f"TikTokClient(client_key={self.client_key!r}, api_base_url={self.api_base_url!r})"

    # OAuth

    def authorize_url(
        self,
        *,
        redirect_uri: str,
        scopes: Sequence[str],
        state: str,
        code_challenge: str | None = None,
        disable_auto_auth: bool = True,
    ) -> str:
        """The consent page URL to send the user to; ``scopes`` are joined with commas.

        ``disable_auto_auth`` (the default) always shows the consent page, so the user can
        pick which TikTok account to connect. ``code_challenge`` comes from
        ``make_pkce_pair``; the web flow does not require it.
        """
        return _oauth.build_authorize_url(
            self.auth_base_url,
            self.client_key,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            code_challenge=code_challenge,
            disable_auto_auth=disable_auto_auth,
        )

    @staticmethod
    def make_pkce_pair() -> _oauth.PkcePair:
        """A PKCE ``(verifier, challenge)`` pair using TikTok's hex-encoded SHA-256."""
        return _oauth.make_pkce_pair()

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> TokenGrant:
        """Trade the callback's ``code`` (already URL-decoded) for tokens.

        ``redirect_uri`` must be the one used in the authorize URL. Raises
        ``InvalidGrant`` when the code is used, expired or does not match.
        """
        form = {
            "client_key": self.client_key,
            "client_secret": self._client_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
        }
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        body = await self._oauth_call(_oauth.TOKEN_PATH, form, (code, code_verifier))
        return _oauth.token_grant_from_body(body)

    async def refresh(self, refresh_token: str) -> TokenGrant:
        """Get a new access token. Store the returned refresh token: TikTok may rotate it.

        Raises ``InvalidGrant`` when the refresh token is dead and the user must reconnect.
        Never run two refreshes of the same token at once.
        """
        form = {
            "client_key": self.client_key,
            "client_secret": self._client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        body = await self._oauth_call(_oauth.TOKEN_PATH, form, (refresh_token,))
        return _oauth.token_grant_from_body(body)

    async def revoke(self, access_token: str) -> None:
        """Revoke the user's authorization of this app."""
        form = {
            "client_key": self.client_key,
            "client_secret": self._client_secret,
            "token": access_token,
        }
        await self._oauth_call(_oauth.REVOKE_PATH, form, (access_token,))

    # Display API

    async def get_user_info(self, access_token: str, fields: Sequence[str]) -> UserInfo:
        """The user's profile; only ``fields`` are requested, each needing its scope."""
        data = await self._api_call(
            "GET", "/v2/user/info/", access_token, params={"fields": _check_fields(fields)}
        )
        return parse_model(UserInfo, data.get("user", {}), "user info")

    async def list_videos(
        self,
        access_token: str,
        *,
        fields: Sequence[str],
        cursor: int | None = None,
        max_count: int = 20,
    ) -> VideoPage:
        """One page of the user's public videos, newest first (``max_count`` 1 to 20)."""
        if not 1 <= max_count <= 20:
            raise ValueError("max_count must be between 1 and 20")
        body: dict[str, Any] = {"max_count": max_count}
        if cursor is not None:
            body["cursor"] = cursor
        data = await self._api_call(
            "POST",
            "/v2/video/list/",
            access_token,
            params={"fields": _check_fields(fields)},
            body=body,
        )
        return parse_model(VideoPage, data, "video list")

    async def query_videos(
        self, access_token: str, *, fields: Sequence[str], video_ids: Sequence[str]
    ) -> list[Video]:
        """The user's videos with these ids (1 to 20), e.g. to refresh cover URLs."""
        if isinstance(video_ids, str) or not 1 <= len(video_ids) <= 20:
            raise ValueError("video_ids must hold 1 to 20 ids")
        data = await self._api_call(
            "POST",
            "/v2/video/query/",
            access_token,
            params={"fields": _check_fields(fields)},
            body={"filters": {"video_ids": list(video_ids)}},
        )
        return parse_model(VideoPage, data, "video query").videos

    # Content Posting API

    async def query_creator_info(self, access_token: str) -> CreatorInfo:
        """What the creator may post now; raises ``TikTokPostingRefused`` if nothing."""
        data = await self._api_call(
            "POST", "/v2/post/publish/creator_info/query/", access_token, body={}
        )
        return parse_model(CreatorInfo, data, "creator info")

    async def init_direct_video(
        self,
        access_token: str,
        *,
        post_info: VideoPostInfo,
        source: FileUploadSource | PullFromUrlSource,
    ) -> InitResult:
        """Start a Direct Post of a video. For FILE_UPLOAD, ``upload`` the bytes next."""
        body = {"post_info": post_info.to_api(), "source_info": source.to_api()}
        return await self._init("/v2/post/publish/video/init/", access_token, body, source)

    async def init_inbox_video(
        self, access_token: str, *, source: FileUploadSource | PullFromUrlSource
    ) -> InitResult:
        """Send a video to the creator's TikTok inbox as a draft they finish in the app."""
        body = {"source_info": source.to_api()}
        return await self._init("/v2/post/publish/inbox/video/init/", access_token, body, source)

    async def init_photo(
        self,
        access_token: str,
        *,
        post_mode: PostMode,
        post_info: PhotoPostInfo,
        photo_urls: Sequence[str],
        cover_index: int,
        is_aigc: bool | None = None,
    ) -> InitResult:
        """Start a photo post that TikTok pulls from ``photo_urls`` (verified, 1 to 35).

        ``post_info.privacy_level`` is required for DIRECT_POST.
        """
        if isinstance(photo_urls, str) or not 1 <= len(photo_urls) <= PHOTO_COUNT_MAX:
            raise ValueError(f"photo_urls must hold 1 to {PHOTO_COUNT_MAX} URLs")
        if not 0 <= cover_index < len(photo_urls):
            raise ValueError("cover_index must point into photo_urls")
        if post_mode == "DIRECT_POST" and post_info.privacy_level is None:
            raise ValueError("a DIRECT_POST photo needs post_info.privacy_level")
        body: dict[str, Any] = {
            "media_type": "PHOTO",
            "post_mode": post_mode,
            "post_info": post_info.to_api(),
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_images": list(photo_urls),
                "photo_cover_index": cover_index,
            },
        }
        if is_aigc is not None:
            body["is_aigc"] = is_aigc
        return await self._init("/v2/post/publish/content/init/", access_token, body, None)

    async def fetch_status(self, access_token: str, publish_id: str) -> PublishStatus:
        """The current status of a publish. A failed post is a status, not an exception."""
        data = await self._api_call(
            "POST",
            "/v2/post/publish/status/fetch/",
            access_token,
            body={"publish_id": publish_id},
        )
        return parse_model(PublishStatus, data, "publish status")

    async def cancel(self, access_token: str, publish_id: str) -> None:
        """Cancel a PULL_FROM_URL download still in progress (best effort).

        Raises ``PublishNotCancellable`` when it is too late.
        """
        await self._api_call(
            "POST", "/v2/post/publish/cancel/", access_token, body={"publish_id": publish_id}
        )

    async def upload(
        self,
        upload_url: str,
        path_or_opener: MediaSource,
        plan: ChunkPlan,
        *,
        content_type: str,
        start_at: int = 0,
        progress: ProgressCallback | None = None,
        on_before_final_chunk: BeforeFinalChunk | None = None,
    ) -> UploadOutcome:
        """PUT the file's chunks to ``upload_url``, in order, streaming each from disk.

        ``plan`` must be the plan announced at init. ``start_at`` is the byte offset to
        resume from (``UploadProgress.next_offset``). A chunk is retried on 5xx, 429 and
        network errors with the client's backoff delays; a 416 moves forward to where
        TikTok's progress header says it is, so a confirmed chunk is never sent again.
        ``progress`` is called after each step TikTok confirms. ``on_before_final_chunk``
        is awaited once, just before the first byte of the final chunk is sent: record
        there that the post may now exist. Raises an ``UploadError`` that carries the
        progress reached (``UploadInterrupted`` once the retries are spent).
        """
        return await self._uploader.upload(
            upload_url,
            path_or_opener,
            plan,
            content_type=content_type,
            start_at=start_at,
            progress=progress,
            on_before_final_chunk=on_before_final_chunk,
        )

    def verify_webhook(
        self,
        header_value: str | None,
        raw_body: bytes | str,
        *,
        now: float | datetime,
        tolerance: float = 300,
    ) -> bool:
        """``verify_webhook_signature`` with this client's secret."""
        return verify_webhook_signature(
            header_value, raw_body, self._client_secret, now=now, tolerance=tolerance
        )

    # Plumbing

    async def _init(
        self,
        path: str,
        access_token: str,
        body: dict[str, Any],
        source: FileUploadSource | PullFromUrlSource | None,
    ) -> InitResult:
        data = await self._api_call("POST", path, access_token, body=body)
        result = parse_model(InitResult, data, "init")
        if isinstance(source, FileUploadSource) and not result.upload_url:
            raise TikTokApiError(
                "TikTok accepted a FILE_UPLOAD init without returning an upload_url",
                code="unexpected_response",
            )
        return result

    async def _send(
        self, method: str, url: str, secrets: Sequence[str | None], **kwargs: Any
    ) -> httpx.Response:
        try:
            return await self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            # Host and path only: the query and the headers may carry tokens.
            target = httpx.URL(url)
            detail = redact(str(exc), secrets)
            raise TikTokTransportError(
                f"the request to TikTok at {target.host} ({method} {target.path}) failed: "
                f"{type(exc).__name__}: {detail}",
                code="transport_error",
                reached_tiktok=not isinstance(exc, _NEVER_SENT),
            ) from None

    async def _observed(
        self, path: str, call: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """Run ``call`` (one request to ``path``, read) and tell the observer how it went."""
        started = time.perf_counter()
        outcome = "interrupted"
        try:
            result = await call()
            outcome = "ok"
            return result
        except TikTokError as exc:
            outcome = outcome_label(exc)
            raise
        finally:
            if self._observer is not None:
                self._observer(path, outcome, time.perf_counter() - started)

    async def _api_call(
        self,
        method: str,
        path: str,
        access_token: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Call a v2 endpoint and return ``data``, raising on any ``error.code`` but ok."""
        headers = {"Authorization": f"Bearer {access_token}"}
        content = None
        if body is not None:
            headers["Content-Type"] = JSON_CONTENT_TYPE
            content = json.dumps(body).encode()
        secrets = (access_token, self._client_secret)

        async def call() -> dict[str, Any]:
            response = await self._send(
                method,
                self.api_base_url + path,
                secrets,
                params=params,
                headers=headers,
                content=content,
            )
            return read_api_response(response, secrets)

        return await self._observed(path, call)

    async def _oauth_call(
        self, path: str, form: dict[str, str], secrets: Sequence[str | None]
    ) -> dict[str, Any]:
        """POST a form to an OAuth endpoint; its errors are flat and may come with HTTP 200."""
        secrets = (*secrets, self._client_secret)

        async def call() -> dict[str, Any]:
            response = await self._send(
                "POST",
                self.api_base_url + path,
                secrets,
                content=urlencode(form).encode(),
                headers={"Content-Type": FORM_CONTENT_TYPE, "Cache-Control": "no-cache"},
            )
            return read_oauth_response(response, secrets)

        return await self._observed(path, call)
