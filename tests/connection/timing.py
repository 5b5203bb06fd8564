"""Simulated time for the gateway and the sandbox together, and the gateway's line to the
sandbox: it records every refresh and every request refused for an expired token, and can
lose the answer to a refresh (TikTok handled it, or never saw it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import FastAPI

from tests.fixtures.clock import OffsetClock
from tests.fixtures.pipeline import app_deps
from zakipost.composition import make_tiktok_client
from zakipost.connection.tokens import TokenVault
from zakipost.publishing.deps import PipelineDeps

TOKEN_PATH = "/v2/oauth/token/"


class SimulatedTime:
    """The gateway's clock and the sandbox's, moved together."""

    def __init__(self, sandbox: Any) -> None:
        self.clock = OffsetClock()
        self._sandbox = sandbox

    def now(self) -> dt.datetime:
        return self.clock()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self._sandbox.clock.advance(seconds)

    def advance_to(self, when: dt.datetime) -> None:
        seconds = (when - self.now()).total_seconds()
        if seconds > 0:
            self.advance(seconds)


@dataclass
class RefreshSeen:
    refresh_token: str
    accepted: bool | None  # None: the answer was lost on the way back
    at: dt.datetime


@dataclass
class SandboxLine(httpx.AsyncBaseTransport):
    inner: httpx.AsyncBaseTransport
    clock: Callable[[], dt.datetime]
    refreshes: list[RefreshSeen] = field(default_factory=list)
    expired_token_refusals: list[str] = field(default_factory=list)
    # Faults for the next refreshes, in order: "handled_lost" (TikTok rotates, the answer
    # never arrives) or "unhandled_lost" (the request times out before TikTok sees it).
    refresh_faults: list[str] = field(default_factory=list)

    def accepted(self) -> list[str]:
        return [r.refresh_token for r in self.refreshes if r.accepted]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        form = parse_qs(body.decode()) if request.url.path.endswith(TOKEN_PATH) else {}
        if form.get("grant_type") == ["refresh_token"]:
            return await self._refresh(request, form["refresh_token"][0])
        response = await self.inner.handle_async_request(request)
        if response.status_code == 401:
            content = await response.aread()
            if b"access_token_invalid" in content:
                self.expired_token_refusals.append(request.url.path)
            return httpx.Response(401, headers=response.headers, content=content)
        return response

    async def _refresh(self, request: httpx.Request, token: str) -> httpx.Response:
        fault = self.refresh_faults.pop(0) if self.refresh_faults else None
        if fault == "unhandled_lost":
            self.refreshes.append(RefreshSeen(token, None, self.clock()))
            raise httpx.ReadTimeout("timed out", request=request)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if fault == "handled_lost":
            self.refreshes.append(RefreshSeen(token, None, self.clock()))
            raise httpx.RemoteProtocolError("connection dropped", request=request)
        self.refreshes.append(RefreshSeen(token, b'"access_token"' in content, self.clock()))
        return httpx.Response(response.status_code, headers=response.headers, content=content)


async def timed_pipeline(
    app: FastAPI, time: SimulatedTime, line: SandboxLine
) -> AsyncIterator[PipelineDeps]:
    """The worker's dependencies on simulated time, talking to the sandbox through ``line``."""
    settings = app.state.settings
    async with httpx.AsyncClient(transport=line, timeout=30) as http:
        credentials = (app.state.tiktok_client_key, app.state.tiktok_client_secret)
        tiktok = make_tiktok_client(settings, http, credentials)
        # A worker of its own (as on another machine): its own TikTok line, vault and clock.
        tokens = TokenVault(app.state.sessionmaker, app.state.vault, tiktok, clock=time.clock)
        yield app_deps(app, tiktok=tiktok, tokens=tokens, clock=time.clock)
