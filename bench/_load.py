"""The load generator, run in its own process: ``python -m bench._load`` with a JSON job on
stdin, one JSON result on stdout.

``concurrency`` keep-alive HTTP/1.1 connections, each sending its next request as soon as the
previous answer is read whole, until ``count`` requests are done or ``max_seconds`` passed. A
warm-up of the same shape runs first and is not counted. The server's CPU time over the
measured window is read from /proc, so the report can say whether the server or the load
generator was the limit.

The client is a minimal HTTP/1.1 client on asyncio streams rather than httpx: on this
machine httpx spends about 2 ms of CPU per request (``"client": "httpx"`` measures it), so
with 2 cores an httpx load generator saturates before a fast endpoint of the server does and
flattens the very ratio the benchmark reports. This client spends about 0.1 ms.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

from bench._env import proc_cpu_seconds


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection (reopened if the server closes it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif status not in (204, 304):
            raise HttpError("a response without Content-Length")
        if headers.get("connection") == "close":
            await self.close()
        return status


def _raw_request(job: dict[str, Any], host: str, port: int) -> bytes:
    body = json.dumps(job["json"]).encode() if "json" in job else b""
    lines = [
        f"{job['method']} {job['path']} HTTP/1.1",
        f"Host: {host}:{port}",
        "User-Agent: zakipost-bench",
        "Accept: */*",
        *(f"{k}: {v}" for k, v in job.get("headers", {}).items()),
    ]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _phase(
    connections: list[Connection],
    raw: bytes,
    count: int,
    max_seconds: float,
    server_pid: int | None,
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    remaining = count
    deadline = time.monotonic() + max_seconds

    async def drive(conn: Connection) -> None:
        nonlocal remaining
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            started = time.perf_counter()
            try:
                status = await conn.request(raw)
            except (OSError, asyncio.IncompleteReadError, HttpError, ValueError) as exc:
                statuses[type(exc).__name__] += 1
                await conn.close()
                continue
            elapsed = time.perf_counter() - started
            statuses[str(status)] += 1
            if status == 200:
                latencies.append(elapsed * 1000)

    cpu_before = proc_cpu_seconds(server_pid) if server_pid else 0.0
    own_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(drive(c) for c in connections))
    elapsed = time.perf_counter() - started
    return {
        "requests": sum(statuses.values()),
        "ok": len(latencies),
        "statuses": dict(statuses),
        "seconds": elapsed,
        "latencies_ms": latencies,
        "server_cpu_seconds": (proc_cpu_seconds(server_pid) - cpu_before) if server_pid else None,
        "client_cpu_seconds": time.process_time() - own_before,
        "timed_out": remaining > 0,
    }


async def _phase_httpx(job: dict[str, Any], count: int, max_seconds: float) -> dict[str, Any]:
    """The same load through httpx (for comparison: ``"client": "httpx"``)."""
    import httpx

    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    remaining = count
    deadline = time.monotonic() + max_seconds
    concurrency = int(job["concurrency"])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    content = json.dumps(job["json"]).encode() if "json" in job else None
    headers = dict(job.get("headers", {}))
    if content is not None:
        headers["Content-Type"] = "application/json"
    server_pid = job.get("server_pid")
    async with httpx.AsyncClient(base_url=job["base_url"], limits=limits, timeout=60.0) as client:

        async def drive() -> None:
            nonlocal remaining
            while remaining > 0 and time.monotonic() < deadline:
                remaining -= 1
                started = time.perf_counter()
                try:
                    response = await client.request(
                        job["method"], job["path"], headers=headers, content=content
                    )
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                    continue
                statuses[str(response.status_code)] += 1
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)

        cpu_before = proc_cpu_seconds(server_pid) if server_pid else 0.0
        own_before = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(drive() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": sum(statuses.values()),
        "ok": len(latencies),
        "statuses": dict(statuses),
        "seconds": elapsed,
        "latencies_ms": latencies,
        "server_cpu_seconds": (proc_cpu_seconds(server_pid) - cpu_before) if server_pid else None,
        "client_cpu_seconds": time.process_time() - own_before,
        "timed_out": remaining > 0,
    }


async def run(job: dict[str, Any]) -> dict[str, Any]:
    max_seconds = float(job["max_seconds"])
    if job.get("client") == "httpx":
        await _phase_httpx(job, int(job["warmup"]), max_seconds)
        return await _phase_httpx(job, int(job["count"]), max_seconds)
    host, _, port = job["base_url"].removeprefix("http://").partition(":")
    connections = [Connection(host, int(port)) for _ in range(int(job["concurrency"]))]
    raw = _raw_request(job, host, int(port))
    try:
        await _phase(connections, raw, int(job["warmup"]), max_seconds, None)
        return await _phase(connections, raw, int(job["count"]), max_seconds, job.get("server_pid"))
    finally:
        for conn in connections:
            await conn.close()


if __name__ == "__main__":
    result = asyncio.run(run(json.load(sys.stdin)))
    json.dump(result, sys.stdout)
