"""Fault injection: random or queued errors per endpoint, latency, timeouts, dropped connections.

Randomness comes from the sandbox's seeded RNG, so a seeded run fails the same calls every time.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import OAUTH_ERRORS, STATUS_BY_CODE, envelope, oauth_body

if TYPE_CHECKING:
    from .state import Sandbox

ENDPOINTS: dict[str, str] = {
    "/v2/auth/authorize/": "oauth.authorize",
    "/v2/oauth/token/": "oauth.token",
    "/v2/oauth/revoke/": "oauth.revoke",
    "/v2/user/info/": "user.info",
    "/v2/video/list/": "video.list",
    "/v2/video/query/": "video.query",
    "/v2/post/publish/creator_info/query/": "creator_info",
    "/v2/post/publish/video/init/": "video.init",
    "/v2/post/publish/inbox/video/init/": "inbox.init",
    "/v2/post/publish/content/init/": "content.init",
    "/v2/post/publish/status/fetch/": "status.fetch",
    "/v2/post/publish/cancel/": "cancel",
    "/upload/": "upload",
}
ALL = "*"


@dataclass
class EndpointFaults:
    """Per-call probabilities (0..1) and a fixed latency for one endpoint (or "*")."""

    error_5xx_rate: float = 0.0
    rate_limit_rate: float = 0.0
    timeout_rate: float = 0.0
    drop_rate: float = 0.0  # connection dropped before the request is handled
    drop_after_rate: float = 0.0  # request handled, response lost
    latency_seconds: float = 0.0


@dataclass
class ForcedError:
    code: str
    status: int | None = None
    message: str | None = None


@dataclass
class Faults:
    endpoints: dict[str, EndpointFaults] = field(default_factory=dict)
    forced: dict[str, list[ForcedError]] = field(default_factory=dict)
    fail_reasons: list[tuple[str, str | None]] = field(default_factory=list)
    # Refreshes still to be handled (token rotated) with their answer cut off.
    lost_refresh_answers: int = 0

    def reset(self) -> None:
        self.endpoints.clear()
        self.forced.clear()
        self.fail_reasons.clear()
        self.lost_refresh_answers = 0

    def set_endpoint(self, endpoint: str, **values: float) -> EndpointFaults:
        if endpoint != ALL and endpoint not in ENDPOINTS.values():
            raise ValueError(f"unknown endpoint {endpoint!r}")
        current = self.endpoints.get(endpoint, EndpointFaults())
        names = {f.name for f in dataclasses.fields(EndpointFaults)}
        for key, value in values.items():
            if key not in names:
                raise ValueError(f"unknown fault {key!r}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            if key.endswith("_rate") and value > 1:
                raise ValueError(f"{key} must be between 0 and 1")
        self.endpoints[endpoint] = dataclasses.replace(current, **values)
        return self.endpoints[endpoint]

    def error_next(
        self,
        endpoint: str,
        code: str,
        *,
        count: int = 1,
        status: int | None = None,
        message: str | None = None,
    ) -> None:
        """The next `count` calls of `endpoint` answer `code` (TikTok's documented status)."""
        if endpoint not in ENDPOINTS.values():
            raise ValueError(f"unknown endpoint {endpoint!r}")
        self.forced.setdefault(endpoint, []).extend(
            ForcedError(code, status, message) for _ in range(count)
        )

    def fail_next(self, reason: str, open_id: str | None = None) -> None:
        """The next publish (of `open_id`, or anyone's) ends FAILED with `reason`."""
        self.fail_reasons.append((reason, open_id))

    def lose_next_refresh_answer(self, count: int = 1) -> None:
        """The next `count` refresh requests are handled, then the connection drops."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        self.lost_refresh_answers += count

    def take_lost_refresh_answer(self) -> bool:
        if self.lost_refresh_answers <= 0:
            return False
        self.lost_refresh_answers -= 1
        return True

    def take_fail_reason(self, open_id: str) -> str | None:
        for i, (reason, who) in enumerate(self.fail_reasons):
            if who is None or who == open_id:
                del self.fail_reasons[i]
                return reason
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoints": {k: dataclasses.asdict(v) for k, v in self.endpoints.items()},
            "forced": {k: [dataclasses.asdict(e) for e in v] for k, v in self.forced.items() if v},
            "fail_next": [{"fail_reason": r, "open_id": o} for r, o in self.fail_reasons],
            "lose_next_refresh": self.lost_refresh_answers,
        }


def route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


# Set in `scope["state"]` by the token endpoint when it handled a refresh whose answer is lost.
LOSE_ANSWER = "zakipost.sandbox.lose_answer"


class FaultMiddleware:
    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sb = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = ENDPOINTS.get(route_path(scope)) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        faults = self.sb.faults
        queue = faults.forced.get(endpoint)
        if queue:
            await self._error(endpoint, queue.pop(0), scope, receive, send)
            return
        rules = [r for r in (faults.endpoints.get(ALL), faults.endpoints.get(endpoint)) if r]
        if rules:
            await asyncio.sleep(sum(r.latency_seconds for r in rules))
        rng = self.sb.rng

        def roll(name: str) -> bool:
            return any(rng.random() < getattr(r, name) for r in rules if getattr(r, name) > 0)

        if roll("drop_rate"):
            await _drop(send)
        if roll("timeout_rate"):
            await asyncio.sleep(self.sb.config.fault_timeout_seconds)
            await self._error(
                endpoint,
                ForcedError("internal_error", 504, "Gateway timeout"),
                scope,
                receive,
                send,
            )
            return
        if roll("error_5xx_rate"):
            await self._error(endpoint, ForcedError("internal_error", 500), scope, receive, send)
            return
        if roll("rate_limit_rate"):
            await self._error(endpoint, ForcedError("rate_limit_exceeded"), scope, receive, send)
            return
        if roll("drop_after_rate"):

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            await _drop(send)
        if endpoint == "oauth.token" and faults.lost_refresh_answers > 0:
            await self._maybe_lose_answer(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _maybe_lose_answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold the answer until the handler says whether it was a refresh to lose."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        state = scope.setdefault("state", {})
        await self.app(scope, receive, hold)
        if state.get(LOSE_ANSWER):
            await _drop(send)
        for message in held:
            await send(message)

    async def _error(
        self, endpoint: str, forced: ForcedError, scope: Scope, receive: Receive, send: Send
    ) -> None:
        log_id = self.sb.log_id()
        code = forced.code
        if endpoint.startswith("oauth."):
            error = code if code in OAUTH_ERRORS else "server_error"
            status = forced.status or (
                500 if code == "internal_error" else self.sb.config.oauth_error_status
            )
            body: dict[str, Any] = oauth_body(error, forced.message or "Injected fault.", log_id)
        else:
            status = forced.status or STATUS_BY_CODE.get(code, 400)
            if self.sb.config.error_http_status == "always_200" and status < 500:
                status = 200
            message = forced.message if forced.message is not None else self.sb.message_for(code)
            body = envelope(code, message, log_id, {})
        await JSONResponse(body, status_code=status)(scope, receive, send)


async def _drop(send: Send) -> None:
    """Cut the connection: headers promise a body that never comes.

    Over a socket uvicorn closes the transport (the client sees a protocol error); in process
    the exception reaches the client through ASGITransport, as httpx would raise it.
    """
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        }
    )
    raise httpx.RemoteProtocolError("Server disconnected without sending a complete response.")
