"""``GET /media/{key}``: stored media, public, for TikTok's PULL_FROM_URL (photos always pull).

No authentication: keys are unguessable. Answers carry the exact ``Content-Type`` and
``Content-Length``, support one byte ``Range`` (206, or 416 outside the file), never
redirect, and are 404 once the media is deleted.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from fastapi.responses import Response, StreamingResponse

from zakipost.dependencies import SettingsDep
from zakipost.schemas import error_responses
from zakipost.storage.base import check_key, content_type_of
from zakipost.storage.dependencies import StoreDep
from zakipost.storage.errors import RangeNotSatisfiable, StoredObjectNotFound
from zakipost.storage.ranges import ByteRange, parse_range
from zakipost.storage.ranges import RangeNotSatisfiable as _Unsatisfiable

router = APIRouter(prefix="/media", tags=["public media"])

KeyPath = Annotated[
    str,
    Path(
        description="The media's key: 32 or more random url-safe characters and an extension.",
        examples=["qJ3vZ0mX8c2Lr5N1bT7yWk4pA9sD6fG0hE2uR5tY8iO.jpg"],
    ),
]
RangeHeader = Annotated[
    str | None,
    Header(
        alias="Range",
        description="One byte range, e.g. `bytes=0-1048575`.",
        examples=["bytes=0-1023"],
    ),
]

_MEDIA_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The whole file.",
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/webp": {"schema": {"type": "string", "format": "binary"}},
            "video/mp4": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    206: {"description": "The requested byte range, with `Content-Range`."},
    416: {
        **error_responses(416)[416],
        "description": "The range is outside the file; `Content-Range: bytes */<size>`.",
    },
    **error_responses(404),
}


async def _answer(
    store: StoreDep, settings: SettingsDep, key: str, range_header: str | None
) -> tuple[dict[str, str], ByteRange | None, int]:
    content_type = content_type_of(check_key(key))
    if content_type is None:
        raise StoredObjectNotFound()
    size = await store.size(key)
    try:
        wanted = parse_range(range_header, size)
    except _Unsatisfiable:
        raise RangeNotSatisfiable(
            f"The file has {size} bytes; the range {range_header!r} is outside it.",
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        ) from None
    headers = {
        "Content-Type": content_type,
        "Content-Length": str(size if wanted is None else wanted.length),
        "Accept-Ranges": "bytes",
        "Cache-Control": f"private, max-age={settings.storage.public_max_age_seconds}",
        "X-Content-Type-Options": "nosniff",
    }
    if wanted is not None:
        headers["Content-Range"] = wanted.content_range(size)
    return headers, wanted, size


@router.get(
    "/{key}",
    summary="A stored media file (public; TikTok pulls photos from here)",
    response_class=Response,
    responses=_MEDIA_RESPONSES,
)
async def get_media(
    key: KeyPath,
    store: StoreDep,
    settings: SettingsDep,
    range_header: RangeHeader = None,
) -> Response:
    headers, wanted, _size = await _answer(store, settings, key, range_header)
    start, end = (0, None) if wanted is None else (wanted.start, wanted.end)
    return StreamingResponse(
        store.open_range(key, start, end),
        status_code=200 if wanted is None else 206,
        headers=headers,
        media_type=headers["Content-Type"],
    )


@router.head(
    "/{key}",
    summary="The headers GET would answer with, without the body",
    response_class=Response,
    responses={200: {"description": "Headers only."}, **error_responses(404, 416)},
)
async def head_media(
    key: KeyPath,
    store: StoreDep,
    settings: SettingsDep,
    range_header: RangeHeader = None,
) -> Response:
    headers, wanted, _size = await _answer(store, settings, key, range_header)
    return Response(status_code=200 if wanted is None else 206, headers=headers)
