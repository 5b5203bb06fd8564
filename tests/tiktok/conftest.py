"""Fixtures for the TikTok client tests: a recording transport and a client wired to it."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from zakipost.tiktok import TikTokClient

CLIENT_KEY = "aw7nk86b7czitwc9"
CLIENT_SECRET = "sek-client-secret-5f2a9c"
ACCESS_TOKEN = "act.example12345Example!12345Example"
REFRESH_TOKEN = "rft.example12345Example!12345Example"
LOG_ID = "202210112248442CB9319E1FB30C1073F3"
API = "https://open.tiktokapis.com"

Reply = httpx.Response | Exception | Callable[[httpx.Request, bytes], httpx.Response]


@dataclass
class Recorded:
    """One request as the transport saw it, before anything buffered its body."""

    request: httpx.Request
    body: bytes
    parts: list[int]
    streamed: bool

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True, strict_parsing=True))


@dataclass
class RecordingTransport(httpx.AsyncBaseTransport):
    """Answers requests from a queue and records how each body was produced."""

    replies: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        streamed = not isinstance(request.stream, httpx.ByteStream)
        parts = [part async for part in request.stream]
        body = b"".join(parts)
        self.requests.append(Recorded(request, body, [len(p) for p in parts], streamed))
        assert self.replies, f"unexpected request {request.method} {request.url}"
        reply = self.replies.popleft()
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request, body)
        return reply

    @property
    def last(self) -> Recorded:
        return self.requests[-1]


def ok(data: dict[str, Any] | None = None, *, status: int = 200) -> httpx.Response:
    """A v2 success envelope."""
    body: dict[str, Any] = {"error": {"code": "ok", "message": "", "log_id": LOG_ID}}
    if data is not None:
        body["data"] = data
    return httpx.Response(status, json=body)


def api_error(status: int, code: str, message: str = "something went wrong") -> httpx.Response:
    """A v2 error envelope, with the empty ``data`` real responses carry."""
    return httpx.Response(
        status, json={"data": {}, "error": {"code": code, "message": message, "log_id": LOG_ID}}
    )


class Sleeps:
    """A fake ``asyncio.sleep`` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def http(transport: RecordingTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport) as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient, sleeps: Sleeps) -> TikTokClient:
    return TikTokClient(
        http,
        client_key=CLIENT_KEY,
        client_secret=CLIENT_SECRET,
        upload_retry_delays=(0.5, 1.0, 2.0),
        upload_block_size=4,
        sleep=sleeps,
    )
