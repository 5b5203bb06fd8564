"""A stand-in for the developer's side: a media origin for pulls and a webhook receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class ReceivedHook:
    headers: dict[str, str]
    body: str


@dataclass
class Helper:
    media: dict[str, bytes] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    holds: dict[str, asyncio.Event] = field(default_factory=dict)
    hooks: list[ReceivedHook] = field(default_factory=list)
    hook_statuses: list[int] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.media.clear()
        self.redirects.clear()
        for event in self.holds.values():
            event.set()
        self.holds.clear()
        self.hooks.clear()
        self.hook_statuses.clear()
        self.requested.clear()

    def hold(self, name: str) -> asyncio.Event:
        """Make downloads of `name` stall after the headers until the event is set."""
        event = asyncio.Event()
        self.holds[name] = event
        return event

    def build_app(self) -> Starlette:
        async def media(request: Request) -> Response:
            name = request.path_params["name"]
            self.requested.append(name)
            if name in self.redirects:
                return RedirectResponse(self.redirects[name], status_code=302)
            if name not in self.media:
                return PlainTextResponse("not found", status_code=404)
            data = self.media[name]
            hold = self.holds.get(name)

            async def body() -> AsyncIterator[bytes]:
                if hold is not None:
                    yield data[:1]
                    await hold.wait()
                    rest = data[1:]
                else:
                    rest = data
                for at in range(0, len(rest), 65536):
                    yield rest[at : at + 65536]

            return StreamingResponse(body(), headers={"Content-Length": str(len(data))})

        async def hooks(request: Request) -> Response:
            body = (await request.body()).decode()
            self.hooks.append(ReceivedHook(dict(request.headers), body))
            status = self.hook_statuses.pop(0) if self.hook_statuses else 200
            return PlainTextResponse("ok", status_code=status)

        return Starlette(
            routes=[
                Route("/media/{name}", media, methods=["GET"]),
                Route("/hooks", hooks, methods=["POST"]),
            ]
        )
