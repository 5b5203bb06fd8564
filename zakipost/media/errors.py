"""Errors raised while fetching, probing and preparing media.

Every class is an :class:`~zakipost.errors.AppError` with a stable ``code`` and says
whether trying again later can help (``retryable``)::

    MediaError                        retryable (per instance; class default below)
    ├── MediaUrlInvalid               media_url_invalid         not http(s), no host, credentials
    ├── MediaUrlForbidden             media_url_forbidden       a private/loopback/metadata address
    ├── MediaUrlUnreachable         * media_url_unreachable     DNS or connection failure
    ├── MediaOriginError              media_origin_error        the origin answered 4xx/5xx (5xx *)
    ├── MediaFetchTimeout           * media_fetch_timeout       connect or read timeout
    ├── MediaTooManyRedirects         media_too_many_redirects
    ├── MediaNotAVideo                media_not_a_video         a web page, JSON or text instead
    │   └── MediaNotAnImage           media_not_an_image        the same, when an image was expected
    ├── MediaTooLarge                 media_too_large           over the byte cap
    └── MediaRejected                 video_rejected            TikTok would refuse it (fail_reason)
        └── PhotoRejected             photo_rejected
"""

from __future__ import annotations

from typing import Any

from zakipost.errors import AppError


class MediaError(AppError):
    """The media could not be used."""

    status_code = 422
    code = "media_error"
    retryable: bool = False

    def __init__(
        self,
        message: str | None = None,
        *,
        retryable: bool | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        if retryable is not None:
            self.retryable = retryable

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class MediaUrlInvalid(MediaError):
    """The media URL is not a usable http(s) URL."""

    code = "media_url_invalid"


class MediaUrlForbidden(MediaError):
    """The media URL points at an address ZakiPost does not fetch from."""

    code = "media_url_forbidden"


class MediaUrlUnreachable(MediaError):
    """The media URL could not be reached."""

    status_code = 502
    code = "media_url_unreachable"
    retryable = True


class MediaOriginError(MediaError):
    """The server holding the media answered with an error."""

    status_code = 502
    code = "media_origin_error"

    def __init__(
        self,
        message: str,
        *,
        http_status: int,
        details: dict[str, Any] | None = None,
    ) -> None:
        # Server-side failures and throttling can pass; a 404 or 403 will not by itself.
        retryable = http_status >= 500 or http_status in (408, 425, 429)
        super().__init__(
            message,
            retryable=retryable,
            details={"http_status": http_status, **(details or {})},
        )
        self.http_status = http_status


class MediaFetchTimeout(MediaError):
    """The server holding the media was too slow to answer."""

    status_code = 504
    code = "media_fetch_timeout"
    retryable = True


class MediaTooManyRedirects(MediaError):
    """The media URL redirected too many times."""

    code = "media_too_many_redirects"


class MediaNotAVideo(MediaError):
    """The URL returned something other than a video file."""

    code = "media_not_a_video"


class MediaNotAnImage(MediaNotAVideo):
    """The URL returned something other than an image file."""

    code = "media_not_an_image"


class MediaTooLarge(MediaError):
    """The media file is larger than allowed."""

    code = "media_too_large"


class MediaRejected(MediaError):
    """TikTok would refuse this video.

    ``fail_reason`` is the value TikTok itself reports for the same problem
    (``file_format_check_failed``, ``duration_check_failed``, ``frame_rate_check_failed``,
    ``picture_size_check_failed``), or ``None`` where TikTok has no such value (a file over
    4 GB is refused by TikTok's init call instead).
    """

    code = "video_rejected"

    def __init__(
        self,
        message: str,
        *,
        fail_reason: str | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details={"fail_reason": fail_reason, **(details or {})})
        self.fail_reason = fail_reason


class PhotoRejected(MediaRejected):
    """TikTok would refuse this photo, and ZakiPost cannot convert it."""

    code = "photo_rejected"
