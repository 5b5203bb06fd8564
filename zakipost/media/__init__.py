"""Media for TikTok: the SSRF-guarded streaming fetcher, the PyAV video probe, photo preparation.

Modules: :mod:`~zakipost.media.guard` (URL and address policy), :mod:`~zakipost.media.fetch`,
:mod:`~zakipost.media.probe`, :mod:`~zakipost.media.photo`, :mod:`~zakipost.media.errors`.
"""

from zakipost.media._transport import GuardedTransport
from zakipost.media.errors import (
    MediaError,
    MediaFetchTimeout,
    MediaNotAnImage,
    MediaNotAVideo,
    MediaOriginError,
    MediaRejected,
    MediaTooLarge,
    MediaTooManyRedirects,
    MediaUrlForbidden,
    MediaUrlInvalid,
    MediaUrlUnreachable,
    PhotoRejected,
)
from zakipost.media.fetch import FetchedMedia, fetch_to_file
from zakipost.media.guard import (
    AddressPolicy,
    Resolver,
    check_url_address,
    check_url_syntax,
    forbidden_reason,
)
from zakipost.media.photo import PreparedPhoto, prepare_photo
from zakipost.media.probe import (
    VideoInfo,
    check_video,
    content_type_for,
    content_type_for_info,
    probe_video,
)

__all__ = [
    "AddressPolicy",
    "FetchedMedia",
    "GuardedTransport",
    "MediaError",
    "MediaFetchTimeout",
    "MediaNotAVideo",
    "MediaNotAnImage",
    "MediaOriginError",
    "MediaRejected",
    "MediaTooLarge",
    "MediaTooManyRedirects",
    "MediaUrlForbidden",
    "MediaUrlInvalid",
    "MediaUrlUnreachable",
    "PhotoRejected",
    "PreparedPhoto",
    "Resolver",
    "VideoInfo",
    "check_url_address",
    "check_url_syntax",
    "check_video",
    "content_type_for",
    "content_type_for_info",
    "fetch_to_file",
    "forbidden_reason",
    "prepare_photo",
    "probe_video",
]
