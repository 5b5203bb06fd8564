"""The sandbox's own control and inspection API under `/_sandbox/` (not part of TikTok)."""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from .errors import OAuthError
from .faults import ENDPOINTS
from .progression import ProgressionError
from .web import sandbox_of

Handler = Callable[[Request], Awaitable[Response]]


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def _guard(handler: Handler) -> Handler:
    """Control calls answer `{"error": ...}` with 400/404/409 instead of raising."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except OAuthError as exc:
            body = {"error": exc.error, "error_description": exc.description}
            return JSONResponse(body, status_code=400)
        except ProgressionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except KeyError as exc:
            return JSONResponse({"error": f"not found: {exc.args[0]}"}, status_code=404)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return wrapped


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ControlError(400, "body must be JSON") from exc
    if not isinstance(value, dict):
        raise ControlError(400, "body must be a JSON object")
    return value


def _param(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


async def index(request: Request) -> Response:
    return JSONResponse(
        {"endpoints": [f"{r.methods} {r.path}" for r in routes if isinstance(r, Route)]}
    )


async def reset(request: Request) -> Response:
    sandbox_of(request).reset()
    return JSONResponse({"reset": True})


async def get_config(request: Request) -> Response:
    return JSONResponse(sandbox_of(request).config.to_dict())


async def patch_config(request: Request) -> Response:
    sb = sandbox_of(request)
    sb.configure(**await _body(request))
    sb.tick()
    return JSONResponse(sb.config.to_dict())


def _clock_body(request: Request) -> dict[str, Any]:
    now = sandbox_of(request).clock.now()
    return {"now": now.isoformat(), "timestamp": now.timestamp()}


async def get_clock(request: Request) -> Response:
    return JSONResponse(_clock_body(request))


async def advance_clock(request: Request) -> Response:
    sb = sandbox_of(request)
    seconds = (await _body(request)).get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ControlError(400, "seconds must be a non-negative number")
    sb.clock.advance(float(seconds))
    sb.tick()
    return JSONResponse(_clock_body(request))


async def list_posts(request: Request) -> Response:
    sb = sandbox_of(request)
    ref = request.query_params.get("open_id") or request.query_params.get("creator")
    open_id = sb.creator(ref).open_id if ref else None
    return JSONResponse(sb.posts(open_id))


async def get_post(request: Request) -> Response:
    sb = sandbox_of(request)
    return JSONResponse(sb.publishing.describe(sb.publish(_param(request, "publish_id"))))


async def post_media(request: Request) -> Response:
    sb = sandbox_of(request)
    publish = sb.publish(_param(request, "publish_id"))
    index_ = int(_param(request, "index"))
    if not 0 <= index_ < len(publish.media) or not publish.media[index_].kept:
        raise KeyError(index_)
    return FileResponse(publish.media[index_].path, media_type="application/octet-stream")


async def advance_post(request: Request) -> Response:
    sb = sandbox_of(request)
    publish_id = _param(request, "publish_id")
    step = await sb.advance(publish_id)
    return JSONResponse({"step": step, "post": sb.publishing.describe(sb.publish(publish_id))})


async def complete_post(request: Request) -> Response:
    sb = sandbox_of(request)
    publish_id = _param(request, "publish_id")
    steps = await sb.complete(publish_id)
    return JSONResponse({"steps": steps, "post": sb.publishing.describe(sb.publish(publish_id))})


async def post_draft(request: Request) -> Response:
    sb = sandbox_of(request)
    publish_id = _param(request, "publish_id")
    privacy = (await _body(request)).get("privacy_level")
    post_id = sb.post_draft(publish_id, privacy)
    return JSONResponse(
        {"post_id": post_id, "post": sb.publishing.describe(sb.publish(publish_id))}
    )


async def take_down(request: Request) -> Response:
    sb = sandbox_of(request)
    return JSONResponse({"post_ids": sb.take_down(_param(request, "publish_id"))})


async def list_creators(request: Request) -> Response:
    return JSONResponse([c.to_dict() for c in sandbox_of(request).creators])


async def add_creator(request: Request) -> Response:
    sb = sandbox_of(request)
    return JSONResponse(sb.add_creator(**await _body(request)).to_dict(), status_code=201)


async def revoke_creator(request: Request) -> Response:
    sb = sandbox_of(request)
    reason = (await _body(request)).get("reason", 1)
    if isinstance(reason, bool) or not isinstance(reason, int):
        raise ControlError(400, "reason must be an integer")
    return JSONResponse({"revoked_grants": sb.revoke_creator(_param(request, "creator"), reason)})


async def daily_cap(request: Request) -> Response:
    sb = sandbox_of(request)
    reached = (await _body(request)).get("reached", True)
    sb.force_daily_cap(_param(request, "creator"), bool(reached))
    return JSONResponse(sb.creator(_param(request, "creator")).to_dict())


async def ban(request: Request) -> Response:
    sb = sandbox_of(request)
    banned = (await _body(request)).get("banned", True)
    sb.ban_creator(_param(request, "creator"), bool(banned))
    return JSONResponse(sb.creator(_param(request, "creator")).to_dict())


async def issue_token(request: Request) -> Response:
    sb = sandbox_of(request)
    body = await _body(request)
    creator = body.get("creator") or sb.creators[0].open_id
    scopes = body.get("scopes")
    if isinstance(scopes, str):
        scopes = scopes.split(",")
    return JSONResponse(sb.issue_token(str(creator), scopes))


async def expire_token(request: Request) -> Response:
    sb = sandbox_of(request)
    token = (await _body(request)).get("access_token")
    if not isinstance(token, str) or not sb.expire_token(token):
        raise ControlError(404, "unknown access_token")
    return JSONResponse({"expired": True})


async def refreshes(request: Request) -> Response:
    return JSONResponse([r.to_dict() for r in sandbox_of(request).refresh_attempts])


async def expired_token_uses(request: Request) -> Response:
    return JSONResponse([u.to_dict() for u in sandbox_of(request).expired_token_uses])


async def get_faults(request: Request) -> Response:
    return JSONResponse(sandbox_of(request).faults.to_dict())


async def clear_faults(request: Request) -> Response:
    sb = sandbox_of(request)
    sb.faults.reset()
    return JSONResponse(sb.faults.to_dict())


async def set_endpoint_faults(request: Request) -> Response:
    sb = sandbox_of(request)
    sb.faults.set_endpoint(_param(request, "endpoint"), **await _body(request))
    return JSONResponse(sb.faults.to_dict())


async def error_next(request: Request) -> Response:
    sb = sandbox_of(request)
    body = await _body(request)
    endpoint, code = body.get("endpoint"), body.get("code")
    count, status, message = body.get("count", 1), body.get("status"), body.get("message")
    if not isinstance(endpoint, str) or not isinstance(code, str) or not isinstance(count, int):
        raise ControlError(
            400, f"endpoint (one of {sorted(ENDPOINTS.values())}), code and count are required"
        )
    sb.faults.error_next(endpoint, code, count=count, status=status, message=message)
    return JSONResponse(sb.faults.to_dict())


async def fail_next(request: Request) -> Response:
    sb = sandbox_of(request)
    body = await _body(request)
    reason = body.get("fail_reason")
    if not isinstance(reason, str):
        raise ControlError(400, "fail_reason is required")
    sb.fail_next(reason, body.get("creator") or body.get("open_id"))
    return JSONResponse(sb.faults.to_dict())


async def lose_next_refresh(request: Request) -> Response:
    sb = sandbox_of(request)
    sb.lose_next_refresh_answer((await _body(request)).get("count", 1))
    return JSONResponse(sb.faults.to_dict())


async def webhooks(request: Request) -> Response:
    return JSONResponse([d.to_dict() for d in sandbox_of(request).webhooks.deliveries])


async def settle(request: Request) -> Response:
    sb = sandbox_of(request)
    timeout = (await _body(request)).get("timeout", 30.0)
    try:
        await sb.settle(float(timeout))
    except TimeoutError as exc:
        raise ControlError(409, "background work still running") from exc
    return JSONResponse({"settled": True})


@functools.lru_cache(maxsize=64)
def _jpeg(seed: str, size: int) -> bytes:
    digest = hashlib.sha256(seed.encode()).digest()
    image = Image.new("RGB", (size, size), (digest[0], digest[1], digest[2]))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


async def avatar(request: Request) -> Response:
    size = request.query_params.get("size", "100")
    px = int(size) if size.isdigit() and 16 <= int(size) <= 1080 else 100
    return Response(_jpeg(_param(request, "name"), px), media_type="image/jpeg")


async def cover(request: Request) -> Response:
    return Response(_jpeg(_param(request, "name"), 360), media_type="image/jpeg")


_ROUTES: list[tuple[str, Handler, list[str]]] = [
    ("/_sandbox/", index, ["GET"]),
    ("/_sandbox/reset", reset, ["POST"]),
    ("/_sandbox/config", get_config, ["GET"]),
    ("/_sandbox/config", patch_config, ["PATCH"]),
    ("/_sandbox/clock", get_clock, ["GET"]),
    ("/_sandbox/clock/advance", advance_clock, ["POST"]),
    ("/_sandbox/posts", list_posts, ["GET"]),
    ("/_sandbox/posts/{publish_id}", get_post, ["GET"]),
    ("/_sandbox/posts/{publish_id}/media/{index:int}", post_media, ["GET"]),
    ("/_sandbox/posts/{publish_id}/advance", advance_post, ["POST"]),
    ("/_sandbox/posts/{publish_id}/complete", complete_post, ["POST"]),
    ("/_sandbox/posts/{publish_id}/post-draft", post_draft, ["POST"]),
    ("/_sandbox/posts/{publish_id}/take-down", take_down, ["POST"]),
    ("/_sandbox/creators", list_creators, ["GET"]),
    ("/_sandbox/creators", add_creator, ["POST"]),
    ("/_sandbox/creators/{creator}/revoke", revoke_creator, ["POST"]),
    ("/_sandbox/creators/{creator}/daily-cap", daily_cap, ["POST"]),
    ("/_sandbox/creators/{creator}/ban", ban, ["POST"]),
    ("/_sandbox/tokens", issue_token, ["POST"]),
    ("/_sandbox/tokens/expire", expire_token, ["POST"]),
    ("/_sandbox/tokens/refreshes", refreshes, ["GET"]),
    ("/_sandbox/tokens/expired-uses", expired_token_uses, ["GET"]),
    ("/_sandbox/faults", get_faults, ["GET"]),
    ("/_sandbox/faults", clear_faults, ["DELETE"]),
    ("/_sandbox/faults/endpoints/{endpoint}", set_endpoint_faults, ["PUT"]),
    ("/_sandbox/faults/error-next", error_next, ["POST"]),
    ("/_sandbox/faults/fail-next", fail_next, ["POST"]),
    ("/_sandbox/faults/lose-next-refresh", lose_next_refresh, ["POST"]),
    ("/_sandbox/webhooks", webhooks, ["GET"]),
    ("/_sandbox/settle", settle, ["POST"]),
    ("/_sandbox/avatars/{name}.jpg", avatar, ["GET"]),
    ("/_sandbox/covers/{name}.jpg", cover, ["GET"]),
]

routes = [Route(path, _guard(handler), methods=methods) for path, handler, methods in _ROUTES]
