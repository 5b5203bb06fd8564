"""The relay's baselines, run in their own process like ZakiPost's worker: ``python -m
bench._copy`` with a JSON job on stdin, one JSON result on stdout.

A plain streaming copy between the same two endpoints ZakiPost uses: its own FILE_UPLOAD init
at the sandbox (same chunk plan, ``zakipost.tiktok.plan_chunks``), an httpx streaming GET
from the source, and the chunk PUTs to the returned upload_url. No database, no hashing, no
probing, no retries. Two shapes:

- ``pipe``: the GET's body goes straight into the PUTs (never touches the disk);
- ``store``: the GET's body is written to a temporary file, then the PUTs read it back in
  1 MB blocks: the same store-and-forward shape as ZakiPost's pipeline, minus everything else.

The timed window runs from the init request to the final PUT's answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import httpx

from zakipost.tiktok import ChunkPlan, plan_chunks

BLOCK = 1 << 20
POST_INFO = {
    "privacy_level": "SELF_ONLY",
    "title": "Plain copy",
    "disable_comment": False,
    "disable_duet": False,
    "disable_stitch": False,
    "brand_content_toggle": False,
    "brand_organic_toggle": False,
}


async def _init(client: httpx.AsyncClient, job: dict[str, Any], plan: ChunkPlan) -> tuple[str, str]:
    response = await client.post(
        f"{job['api_base']}/v2/post/publish/video/init/",
        headers={"Authorization": f"Bearer {job['access_token']}"},
        json={
            "post_info": {**POST_INFO, "title": job.get("title", "Plain copy")},
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": plan.video_size,
                "chunk_size": plan.chunk_size,
                "total_chunk_count": plan.total_chunk_count,
            },
        },
    )
    response.raise_for_status()
    data = response.json()["data"]
    return str(data["publish_id"]), str(data["upload_url"])


async def _put(
    client: httpx.AsyncClient, url: str, plan: ChunkPlan, index: int, body: AsyncIterator[bytes]
) -> None:
    chunk = plan.chunks[index]
    response = await client.put(
        url,
        content=body,
        headers={
            "Content-Type": "video/mp4",
            "Content-Length": str(chunk.size),
            "Content-Range": chunk.content_range(plan.video_size),
        },
    )
    expected = 201 if index == plan.total_chunk_count - 1 else 206
    if response.status_code != expected:
        raise RuntimeError(f"chunk {index}: HTTP {response.status_code} {response.text[:200]}")


async def pipe(
    client: httpx.AsyncClient, job: dict[str, Any], plan: ChunkPlan, url: str
) -> dict[str, float]:
    async with client.stream("GET", job["source_url"]) as response:
        response.raise_for_status()
        pieces = response.aiter_bytes()
        leftover = b""

        async def take(size: int) -> AsyncIterator[bytes]:
            nonlocal leftover
            while size:
                if not leftover:
                    leftover = await anext(pieces)
                piece, leftover = leftover[:size], leftover[size:]
                size -= len(piece)
                yield piece

        for index, chunk in enumerate(plan.chunks):
            await _put(client, url, plan, index, take(chunk.size))
    return {}


class _File:
    """Blocking file access, as a plain script would do it."""

    def __init__(self, path: Path, mode: str) -> None:
        self.fh: IO[bytes] = open(path, mode)  # noqa: SIM115 (closed by close())

    def write(self, data: bytes) -> None:
        self.fh.write(data)

    def read_at(self, start: int, size: int) -> bytes:
        self.fh.seek(start)
        return self.fh.read(size)

    def close(self) -> None:
        self.fh.close()


async def store(
    client: httpx.AsyncClient, job: dict[str, Any], plan: ChunkPlan, url: str
) -> dict[str, float]:
    path = Path(job["tmp_dir"]) / f"plain-copy-{os.getpid()}.part"
    started = time.perf_counter()
    try:
        sink = _File(path, "wb")
        try:
            async with client.stream("GET", job["source_url"]) as response:
                response.raise_for_status()
                async for piece in response.aiter_bytes():
                    sink.write(piece)
        finally:
            sink.close()
        fetched = time.perf_counter()
        source = _File(path, "rb")
        try:
            for index, chunk in enumerate(plan.chunks):

                async def blocks(
                    start: int = chunk.start, size: int = chunk.size
                ) -> AsyncIterator[bytes]:
                    offset = start
                    while offset < start + size:
                        block = source.read_at(offset, min(BLOCK, start + size - offset))
                        offset += len(block)
                        yield block

                await _put(client, url, plan, index, blocks())
        finally:
            source.close()
    finally:
        path.unlink(missing_ok=True)
    return {"fetch_seconds": fetched - started, "upload_seconds": time.perf_counter() - fetched}


async def run(job: dict[str, Any]) -> dict[str, Any]:
    plan = plan_chunks(int(job["size"]))
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client:
        # Warm up (imports httpx loads lazily, a first connection) like a long-running worker.
        await client.get(f"{job['api_base']}/_sandbox/config")
        started = time.perf_counter()
        cpu_started = time.process_time()
        publish_id, url = await _init(client, job, plan)
        initialized = time.perf_counter()
        phases = await (pipe if job["mode"] == "pipe" else store)(client, job, plan, url)
        finished = time.perf_counter()
        cpu = time.process_time() - cpu_started
    return {
        "own_cpu_seconds": cpu,
        "publish_id": publish_id,
        "seconds": finished - started,
        "init_seconds": initialized - started,
        **phases,
    }


if __name__ == "__main__":
    json.dump(asyncio.run(run(json.load(sys.stdin))), sys.stdout)
