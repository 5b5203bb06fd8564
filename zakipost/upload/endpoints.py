"""``/v1/media``: upload videos and photos to ZakiPost, then post them by ``media_id``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request

from zakipost.auth.dependencies import ApiAccount
from zakipost.db.session import ReadSessionDep, SessionDep
from zakipost.dependencies import SessionmakerDep, SettingsDep
from zakipost.schemas import AUTH_ERRORS, Envelope, error_responses, ok
from zakipost.storage import staging_dir
from zakipost.storage.dependencies import StoreDep
from zakipost.upload import service as media_service
from zakipost.upload import transfer
from zakipost.upload.intake import receive
from zakipost.upload.schemas import (
    MEDIA_EXAMPLE,
    MEDIA_ID_EXAMPLE,
    MediaContentType,
    MediaOut,
    PresignedOut,
    PresignRequest,
    ResumableCreate,
)

router = APIRouter(prefix="/media", tags=["media"], responses=error_responses(*AUTH_ERRORS))

MediaId = Annotated[str, Path(max_length=32, examples=[MEDIA_ID_EXAMPLE])]
UPLOADED = "Media uploaded and checked; use its media_id in a post."

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Either multipart/form-data with the file in the field `file`, or the "
        "raw file as the body with its own media type (`?filename=` names it). Streamed: "
        "any size up to the cap (ZAKIPOST_STORAGE_MAX_UPLOAD_BYTES, 4 GB by default).",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            **{content_type.value: _BINARY for content_type in MediaContentType},
            "application/octet-stream": _BINARY,
        },
    }
}


async def release_connection(auth_session: ReadSessionDep) -> None:
    """End the authentication's read transaction (the same session, cached per request)
    before a long transfer, so an upload never holds a database connection while it runs."""
    await auth_session.close()


def _example(data: dict[str, Any], message: str) -> dict[int | str, dict[str, Any]]:
    example = {"success": True, "message": message, "data": data}
    return {200: {"content": {"application/json": {"example": example}}}}


@router.post(
    "",
    summary="Upload a video or photo (streamed, multipart or raw body)",
    response_model=Envelope[MediaOut],
    openapi_extra=_UPLOAD_BODY,
    responses={**_example(MEDIA_EXAMPLE, UPLOADED), **error_responses(400, 413, 415, 422)},
)
async def upload(
    request: Request,
    account: ApiAccount,
    auth_session: ReadSessionDep,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    filename: Annotated[
        str | None,
        Query(max_length=255, description="The file's name, for a raw body.", examples=["a.mp4"]),
    ] = None,
) -> Envelope[MediaOut]:
    """Checked like fetched media: a video TikTok takes (MP4, MOV or WebM; H.264, H.265,
    VP8 or VP9; 3 to 600 s; 23 to 60 fps; sides 360 to 4096 px), or a JPEG, PNG or WebP
    photo. Unused media expires after ZAKIPOST_STORAGE_UPLOAD_TTL_HOURS (24 h)."""
    await release_connection(auth_session)
    spooled = await receive(
        request.headers,
        request.stream(),
        staging_dir(settings),
        settings.storage.max_upload_bytes,
        filename=filename,
    )
    try:
        row = await media_service.accept(session, store, settings, account.id, spooled)
    finally:
        spooled.path.unlink(missing_ok=True)
    return ok(MediaOut.of(row), UPLOADED)


@router.post(
    "/presign",
    summary="Upload straight to the bucket: a presigned PUT URL (S3-compatible store only)",
    response_model=Envelope[PresignedOut],
    responses=error_responses(409, 413, 422),
)
async def presign(
    body: PresignRequest,
    account: ApiAccount,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
) -> Envelope[PresignedOut]:
    """PUT the file to `upload_url` with `headers`, then call `complete_url`. With the local
    store this is a 409 `presign_unavailable`: use `POST /v1/media`."""
    row, presigned = await transfer.presign(
        session,
        store,
        settings,
        account.id,
        content_type=body.content_type.value,
        size=body.size,
        filename=body.filename,
    )
    out = PresignedOut(
        media_id=row.media_id,
        upload_url=presigned.url,
        method=presigned.method,
        headers=presigned.headers,
        upload_expires_at=presigned.expires_at,
        complete_url=f"/v1/media/{row.media_id}/complete",
        media=MediaOut.of(row),
    )
    return ok(out, "Send the file to upload_url, then complete the upload.")


@router.post(
    "/uploads",
    summary="Start a resumable upload (send the file in chunks)",
    response_model=Envelope[MediaOut],
    responses=error_responses(413, 422),
)
async def create_upload(
    body: ResumableCreate, account: ApiAccount, session: SessionDep, settings: SettingsDep
) -> Envelope[MediaOut]:
    """Then `PUT /v1/media/uploads/{media_id}` each chunk in order with
    `Content-Range: bytes <first>-<last>/<size>`; after an interruption, `GET` it and go on
    from `received`. The chunk that completes the file completes the upload."""
    row = await transfer.create_resumable(
        session,
        settings,
        account.id,
        content_type=body.content_type.value,
        size=body.size,
        filename=body.filename,
    )
    return ok(MediaOut.of(row), f"Upload started; send chunks to /v1/media/uploads/{row.media_id}.")


@router.put(
    "/uploads/{media_id}",
    summary="Send one chunk of a resumable upload",
    response_model=Envelope[MediaOut],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": _BINARY},
        }
    },
    responses=error_responses(400, 404, 409, 413, 422),
)
async def put_chunk(
    media_id: MediaId,
    request: Request,
    account: ApiAccount,
    auth_session: ReadSessionDep,
    maker: SessionmakerDep,
    store: StoreDep,
    settings: SettingsDep,
    content_range: Annotated[
        str,
        Header(
            alias="Content-Range",
            description="`bytes <first>-<last>/<size>`; `<first>` must equal `received`.",
            examples=["bytes 0-8388607/314572800"],
        ),
    ],
) -> Envelope[MediaOut]:
    """A 409 `upload_offset_mismatch` says where to resume (`details.received`)."""
    await release_connection(auth_session)
    row = await transfer.put_chunk(
        maker, store, settings, account.id, media_id, content_range, request.stream()
    )
    message = UPLOADED if row.status.value == "ready" else f"{row.received:,} bytes received."
    return ok(MediaOut.of(row), message)


@router.get(
    "/uploads/{media_id}",
    summary="How far a resumable upload got",
    response_model=Envelope[MediaOut],
    responses=error_responses(404),
)
async def get_upload(
    media_id: MediaId, account: ApiAccount, session: ReadSessionDep
) -> Envelope[MediaOut]:
    return ok(MediaOut.of(await media_service.get(session, account.id, media_id)))


@router.post(
    "/{media_id}/complete",
    summary="Finish a presigned (or interrupted resumable) upload: check what arrived",
    response_model=Envelope[MediaOut],
    responses=error_responses(404, 409, 413, 422),
)
async def complete(
    media_id: MediaId,
    account: ApiAccount,
    auth_session: ReadSessionDep,
    maker: SessionmakerDep,
    store: StoreDep,
    settings: SettingsDep,
) -> Envelope[MediaOut]:
    """The file is checked like any upload; a refused file is deleted and the media is
    `failed`, with the reason in the error (and in `error` when read back)."""
    await release_connection(auth_session)
    row = await transfer.complete(maker, store, settings, account.id, media_id)
    return ok(MediaOut.of(row), UPLOADED)


@router.get(
    "/{media_id}",
    summary="Uploaded media",
    response_model=Envelope[MediaOut],
    responses={**_example(MEDIA_EXAMPLE, "OK"), **error_responses(404)},
)
async def get_media(
    media_id: MediaId, account: ApiAccount, session: ReadSessionDep
) -> Envelope[MediaOut]:
    return ok(MediaOut.of(await media_service.get(session, account.id, media_id)))


@router.delete(
    "/{media_id}",
    summary="Delete uploaded media now",
    response_model=Envelope[MediaOut],
    responses=error_responses(404, 409),
)
async def delete_media(
    media_id: MediaId, account: ApiAccount, session: SessionDep, store: StoreDep
) -> Envelope[MediaOut]:
    """Media a post uses is deleted when that post is final (409 until then)."""
    row = await media_service.delete(session, store, account.id, media_id)
    return ok(MediaOut.of(row), "Media deleted.")
