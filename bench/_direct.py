"""The throughput baseline, in its own process: ``python -m bench._direct`` with a JSON job on
stdin, one JSON result on stdout.

A direct client of the TikTok API making, for each post, exactly the calls ZakiPost makes for
a FILE_UPLOAD video: creator info, the init (same chunk plan, ``zakipost.tiktok.plan_chunks``),
the chunk PUTs to the returned upload_url, then status fetches until TikTok says
PUBLISH_COMPLETE, spaced like ZakiPost's polls (``POLL_DELAYS``). ``concurrency`` posts are in
flight at once (ZakiPost's workers x their job slots), one token per post (one creator per
post, as ZakiPost has one connection per post). Nothing else: no database, no fetch from a
media source (the bytes are read once from the file), no probe, no retries.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from zakipost.publishing.outcome import POLL_DELAYS
from zakipost.tiktok import plan_chunks

POST_INFO = {
    "privacy_level": "SELF_ONLY",
    "title": "Direct client",
    "disable_comment": False,
    "disable_duet": False,
    "disable_stitch": False,
    "brand_content_toggle": False,
    "brand_organic_toggle": False,
}


def _data(response: httpx.Response, what: str) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or body.get("error", {}).get("code") != "ok":
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    return dict(body.get("data") or {})


async def _post(client: httpx.AsyncClient, api: str, token: str, media: bytes) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    started = time.time()
    _data(await client.post(f"{api}/v2/post/publish/creator_info/query/", headers=auth), "info")
    plan = plan_chunks(len(media))
    init = _data(
        await client.post(
            f"{api}/v2/post/publish/video/init/",
            headers=auth,
            json={
                "post_info": POST_INFO,
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": plan.video_size,
                    "chunk_size": plan.chunk_size,
                    "total_chunk_count": plan.total_chunk_count,
                },
            },
        ),
        "init",
    )
    publish_id, url = str(init["publish_id"]), str(init["upload_url"])
    for index, chunk in enumerate(plan.chunks):
        response = await client.put(
            url,
            content=media[chunk.start : chunk.start + chunk.size],
            headers={
                "Content-Type": "video/mp4",
                "Content-Range": chunk.content_range(plan.video_size),
            },
        )
        if response.status_code not in (201, 206):
            raise RuntimeError(f"chunk {index}: HTTP {response.status_code} {response.text[:200]}")
    checks = 0
    while True:
        await asyncio.sleep(POLL_DELAYS[min(checks, len(POLL_DELAYS) - 1)] if checks else 0.0)
        status = _data(
            await client.post(
                f"{api}/v2/post/publish/status/fetch/",
                headers=auth,
                json={"publish_id": publish_id},
            ),
            "status",
        )
        checks += 1
        if status.get("status") == "PUBLISH_COMPLETE":
            break
        if status.get("status") == "FAILED":
            raise RuntimeError(f"{publish_id} failed at TikTok: {status.get('fail_reason')}")
    return {"started": started, "published": time.time(), "status_checks": checks}


async def run(job: dict[str, Any]) -> dict[str, Any]:
    api = str(job["api_base"])
    tokens: list[str] = list(job["tokens"])
    concurrency = int(job["concurrency"])
    media = await asyncio.to_thread(Path(job["video_path"]).read_bytes)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0), limits=limits) as client:
        # Warm up like a long-running process: lazy imports, a first connection.
        await client.get(f"{api}/_sandbox/config")
        queue: asyncio.Queue[str] = asyncio.Queue()
        for token in tokens:
            queue.put_nowait(token)
        results: list[dict[str, Any]] = []

        async def slot() -> None:
            while not queue.empty():
                results.append(await _post(client, api, queue.get_nowait(), media))

        cpu_started = time.process_time()
        started = time.time()
        await asyncio.gather(*(slot() for _ in range(concurrency)))
        finished = time.time()
    return {
        "started": started,
        "finished": finished,
        "posts": results,
        "own_cpu_seconds": time.process_time() - cpu_started,
    }


if __name__ == "__main__":
    json.dump(asyncio.run(run(json.load(sys.stdin))), sys.stdout)
