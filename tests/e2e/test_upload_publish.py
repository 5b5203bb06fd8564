"""A 300 MB video uploaded to ZakiPost and published from its media id, with the worker's
memory flat: the video is streamed from disk to TikTok, never held whole."""

from __future__ import annotations

import hashlib
import struct
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.e2e.test_publish_flow import read, sandbox_posts
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from zakipost.worker import Worker

SIZE = 300 * 1000 * 1000
BLOCK = 1 << 20
PEAK_LIMIT = 32 * 1000 * 1000

# Memory does not depend on the database; one dialect keeps the suite fast.
pytestmark = pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)


def write_big_video(path: Path) -> str:
    """A valid MP4 of SIZE bytes (a 4 s video and a ``free`` box), written in blocks."""
    head = make_video(seconds=4)
    digest = hashlib.sha256()
    padding = SIZE - len(head)
    with open(path, "wb") as file:
        for block in (head, struct.pack(">I", padding) + b"free"):
            file.write(block)
            digest.update(block)
        left, zeros = padding - 8, bytes(BLOCK)
        while left:
            step = min(left, BLOCK)
            file.write(zeros[:step])
            digest.update(zeros[:step])
            left -= step
    return digest.hexdigest()


async def from_disk(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as file:  # noqa: ASYNC230 - a local test file, read in blocks
        while block := file.read(BLOCK):
            yield block


async def test_uploaded_300mb_video_publishes_with_flat_memory(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    video = tmp_path / "big.mp4"
    sha256 = write_big_video(video)
    uploaded = await client.post(
        "/v1/media",
        content=from_disk(video),
        headers={**owner.headers, "Content-Type": "video/mp4"},
    )
    assert uploaded.status_code == 200, uploaded.text
    media_id = uploaded.json()["data"]["media_id"]
    accepted = await client.post(
        "/v1/tiktok/publish",
        json={"media_id": media_id, "tiktok_account_id": account_id, "privacy_level": "SELF_ONLY"},
        headers=owner.headers,
    )
    assert accepted.status_code == 200, accepted.text
    publish_id = accepted.json()["data"]["publish_id"]

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await settle(worker, sessionmaker)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    post = await read(client, owner, publish_id)
    assert post["status"] == "published", post
    [received] = await sandbox_posts(client)
    assert received["media_size"] == SIZE
    assert received["media_sha256"] == sha256
    assert received["uploaded_bytes"] == SIZE
    assert peak < PEAK_LIMIT, f"peak {peak:,} bytes while publishing a {SIZE:,}-byte video"
    # Once the post is final its media is removed from the store.
    gone = await client.get(f"/v1/media/{media_id}", headers=owner.headers)
    assert gone.status_code == 404
