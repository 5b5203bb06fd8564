"""A tiny HTTP/1.1 origin on a loopback address, fully scripted, that counts every contact.

Raw asyncio rather than a framework, so a test can lie in headers, stall, or cut a body
short. Each response closes its connection.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from tests.media.factories import MP4_HEAD

Handler = Callable[["Exchange"], Awaitable[None]]


@dataclass
class Exchange:
    """One request and the means to answer it."""

    method: str
    target: str
    headers: dict[str, str]
    writer: asyncio.StreamWriter
    stop: asyncio.Event

    async def head(self, status: int, headers: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} Status", *(f"{k}: {v}" for k, v in headers.items())]
        self.writer.write(("\r\n".join([*lines, "Connection: close", "", ""])).encode())
        await self.writer.drain()

    async def body(self, chunks: Iterable[bytes] | AsyncIterator[bytes]) -> None:
        if isinstance(chunks, AsyncIterator):
            async for chunk in chunks:
                self.writer.write(chunk)
                await self.writer.drain()
            return
        for chunk in chunks:
            self.writer.write(chunk)
            await self.writer.drain()

    async def stall(self) -> None:
        await self.stop.wait()


@dataclass
class MediaServer:
    host: str = "127.0.0.1"
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    requests: list[Exchange] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    scheme: str = "http"
    _server: asyncio.Server | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, *, tls: ssl.SSLContext | None = None) -> MediaServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=tls)
        self.scheme = "https" if tls else "http"
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        self._stop.set()
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str, *, host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    @property
    def total_hits(self) -> int:
        return sum(self.hits.values())

    # -- routes ------------------------------------------------------------------------

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def serve(
        self,
        path: str,
        body: bytes | Iterable[bytes],
        *,
        content_type: str | None = "video/mp4",
        status: int = 200,
        length: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``path`` with ``body``; ``length`` overrides Content-Length (a bytes body
        sets it by default; an iterable body is sent until the connection closes)."""

        async def handler(exchange: Exchange) -> None:
            extra = dict(headers or {})
            if content_type:
                extra["Content-Type"] = content_type
            declared = (
                length if length is not None else (len(body) if isinstance(body, bytes) else None)
            )
            if declared is not None:
                extra["Content-Length"] = str(declared)
            await exchange.head(status, extra)
            await exchange.body([body] if isinstance(body, bytes) else body)

        self.route(path, handler)

    def video(self, path: str, size: int = 4096) -> bytes:
        body = MP4_HEAD + bytes(range(256)) * (size // 256)
        self.serve(path, body[:size])
        return body[:size]

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        async def handler(exchange: Exchange) -> None:
            await exchange.head(status, {"Location": location, "Content-Length": "0"})

        self.route(path, handler)

    # -- plumbing ----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            request_line = (await reader.readline()).decode()
            if not request_line:
                return
            method, target, _ = request_line.split(" ", 2)
            headers: dict[str, str] = {}
            while (line := (await reader.readline()).decode().strip()) != "":
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            path = target.split("?", 1)[0]
            self.hits[path] += 1
            exchange = Exchange(method, target, headers, writer, self._stop)
            self.requests.append(exchange)
            handler = self.routes.get(path, _not_found)
            await handler(exchange)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


async def _not_found(exchange: Exchange) -> None:
    await exchange.head(404, {"Content-Type": "text/plain", "Content-Length": "9"})
    await exchange.body([b"not found"])
