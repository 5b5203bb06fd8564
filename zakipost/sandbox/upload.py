"""The `upload_url` endpoint: chunked PUTs (api-facts.md §3.4), streamed straight to disk.

Never holds a chunk in memory: each body piece is hashed (sha256, incrementally) and written
as it arrives; a chunk whose body disagrees with its headers is rolled back.

201 all received; 206 more expected; 400 bad headers or Content-Length != body; 403 URL
expired; 404 unknown task; 416 Content-Range does not match progress. Every answer carries
the progress header `Content-Range: bytes 0-{last received byte}/{total}`.
"""

from __future__ import annotations

import re

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import envelope
from .models import Stage, Upload
from .state import Sandbox
from .storage import SpoolFile
from .web import sandbox_of

CONTENT_TYPES = {"video/mp4", "video/quicktime", "video/webm"}
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def _progress(upload: Upload) -> str:
    if upload.received == 0:
        return f"bytes */{upload.video_size}"
    return f"bytes 0-{upload.received - 1}/{upload.video_size}"


def _refuse(sb: Sandbox, status: int, message: str, upload: Upload | None = None) -> Response:
    headers = {"Content-Range": _progress(upload)} if upload is not None else None
    body = envelope("invalid_file_upload", message, sb.log_id(), {})
    return JSONResponse(body, status_code=status, headers=headers)


async def put_chunk(request: Request) -> Response:
    sb = sandbox_of(request)
    upload = sb.publishing.uploads.get(request.query_params.get("upload_id", ""))
    if upload is None or request.query_params.get("upload_token") != upload.token:
        return _refuse(sb, 404, "No upload task was found for this URL.")
    publish = sb.publishing.publishes.get(upload.publish_id)
    if publish is None or publish.stage is Stage.FAILED:
        return _refuse(sb, 404, "No upload task was found for this URL.")
    if sb.clock.now() >= upload.expires_at:
        return _refuse(sb, 403, "The upload URL has expired.", upload)
    if publish.stage is not Stage.UPLOADING or upload.busy:
        return _refuse(sb, 416, "The Content-Range does not match the upload progress.", upload)

    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in CONTENT_TYPES:
        return _refuse(
            sb, 400, "The Content-Type must be video/mp4, video/quicktime or video/webm.", upload
        )
    match = _RANGE.fullmatch(request.headers.get("content-range", "").strip())
    if match is None:
        return _refuse(sb, 400, "The Content-Range header is missing or malformed.", upload)
    first, last, total = (int(g) for g in match.groups())
    if total != upload.video_size or last < first:
        return _refuse(sb, 400, "The Content-Range header does not match the video size.", upload)
    length_header = request.headers.get("content-length", "")
    if not length_header.isdigit():
        return _refuse(sb, 400, "The Content-Length header is missing or malformed.", upload)
    length = int(length_header)
    if length != last - first + 1:
        return _refuse(sb, 400, "The Content-Length does not match the Content-Range.", upload)
    expected = upload.chunk_bounds(upload.chunks_received)
    if (first, last) != expected:
        return _refuse(sb, 416, "The Content-Range does not match the upload progress.", upload)

    upload.busy = True
    try:
        received = await _write_chunk(request, upload, first, length)
    except ClientDisconnect:
        received = -1
    finally:
        upload.busy = False
    if received != length:
        publish.uploaded_bytes = upload.received
        return _refuse(sb, 400, "The Content-Length does not match the size of the body.", upload)

    upload.received = last + 1
    upload.chunks_received += 1
    publish.uploaded_bytes = upload.received
    media = publish.media[0]
    media.size = upload.received
    headers = {"Content-Range": _progress(upload)}
    if upload.chunks_received < upload.total_chunk_count:
        return Response(status_code=206, headers=headers)
    media.sha256 = upload.hasher.hexdigest()
    await sb.progression.on_upload_complete(publish)
    return Response(status_code=201, headers=headers)


async def _write_chunk(request: Request, upload: Upload, first: int, length: int) -> int:
    """Stream the body to disk at `first`; on any mismatch restore file and hash, return count."""
    backup = upload.hasher.copy()
    count = 0
    publish = sandbox_of(request).publishing.publishes[upload.publish_id]
    with SpoolFile(upload.path, first) as spool:
        try:
            async for piece in request.stream():
                count += len(piece)
                if count > length:
                    break
                upload.hasher.update(piece)
                spool.write(piece)
                publish.uploaded_bytes = first + count
        finally:
            if count != length:
                spool.rollback()
                upload.hasher = backup
    return count


routes = [Route("/upload/", put_chunk, methods=["PUT"])]
