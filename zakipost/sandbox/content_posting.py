"""Content Posting API, HTTP layer: `/v2/post/publish/*` routes over `Publishing`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .errors import envelope
from .web import authenticate, base_url, json_body, ok, sandbox_of

PUBLISH = ("video.publish",)
UPLOAD = ("video.upload",)
EITHER = ("video.publish", "video.upload")


async def creator_info(request: Request) -> JSONResponse:
    sb = sandbox_of(request)
    auth = authenticate(request, "creator_info", PUBLISH)
    await json_body(request, allow_empty=True)
    return ok(sb, sb.publishing.creator_info(auth, base_url(request)))


async def video_init(request: Request) -> JSONResponse:
    sb = sandbox_of(request)
    auth = authenticate(request, "video.init", PUBLISH)
    body = await json_body(request)
    return ok(sb, sb.publishing.init_video(auth, body, base_url(request), inbox=False))


async def inbox_video_init(request: Request) -> JSONResponse:
    sb = sandbox_of(request)
    auth = authenticate(request, "inbox.init", UPLOAD)
    body = await json_body(request)
    return ok(sb, sb.publishing.init_video(auth, body, base_url(request), inbox=True))


async def content_init(request: Request) -> JSONResponse:
    sb = sandbox_of(request)
    # The scope needed depends on post_mode, so it is checked once the body is parsed.
    auth = authenticate(request, "content.init", EITHER)
    body = await json_body(request)
    return ok(sb, sb.publishing.init_content(auth, body))


async def status_fetch(request: Request) -> JSONResponse:
    sb = sandbox_of(request)
    auth = authenticate(request, "status.fetch", EITHER)
    body = await json_body(request)
    return ok(sb, sb.publishing.status(auth, body))


async def cancel(request: Request) -> JSONResponse:
    sb = sandbox_of(request)
    auth = authenticate(request, "cancel", EITHER)
    body = await json_body(request)
    sb.publishing.cancel(auth, body)
    # The documented success body has no `data`.
    return JSONResponse(envelope("ok", "", sb.log_id(), None))


routes = [
    Route("/v2/post/publish/creator_info/query/", creator_info, methods=["POST"]),
    Route("/v2/post/publish/video/init/", video_init, methods=["POST"]),
    Route("/v2/post/publish/inbox/video/init/", inbox_video_init, methods=["POST"]),
    Route("/v2/post/publish/content/init/", content_init, methods=["POST"]),
    Route("/v2/post/publish/status/fetch/", status_fetch, methods=["POST"]),
    Route("/v2/post/publish/cancel/", cancel, methods=["POST"]),
]
