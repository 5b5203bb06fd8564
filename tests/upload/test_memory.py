"""A ~300 MB video uploaded through POST /v1/media never sits in memory whole."""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.app import AccountWithKeys
from tests.sandbox.media import make_video
from zakipost.storage import MediaStore

SIZE = 300 * 1000 * 1000
BLOCK = 1 << 20
# Far below the file: a few blocks in flight plus the app's own small allocations.
PEAK_LIMIT = 32 * 1000 * 1000

# Memory does not depend on the database; one dialect keeps the suite fast.
pytestmark = pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)


@pytest.fixture(scope="session")
def big_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid MP4 of SIZE bytes (a short video and a `free` box), written in blocks."""
    head = make_video()
    path = tmp_path_factory.mktemp("big") / "big.mp4"
    padding = SIZE - len(head)
    with open(path, "wb") as file:
        file.write(head)
        file.write(struct.pack(">I", padding) + b"free")
        left = padding - 8
        zeros = bytes(BLOCK)
        while left:
            step = min(left, BLOCK)
            file.write(zeros[:step])
            left -= step
    return path


async def from_disk(path: Path, before: bytes = b"", after: bytes = b"") -> AsyncIterator[bytes]:
    yield before
    with open(path, "rb") as file:  # noqa: ASYNC230 - a local test file, read in blocks
        while block := file.read(BLOCK):
            yield block
    yield after


def body(path: Path, form: str) -> tuple[AsyncIterator[bytes], dict[str, str]]:
    if form == "raw":
        return from_disk(path), {"Content-Type": "video/mp4"}
    before = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\n"
    )
    content_type = "multipart/form-data; boundary=b0undary"
    return from_disk(path, before, b"\r\n--b0undary--\r\n"), {"Content-Type": content_type}


class TestUploadMemory:
    @pytest.mark.parametrize("form", ["raw", "multipart"])
    async def test_peak_stays_far_below_the_file(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_store: MediaStore,
        big_video: Path,
        form: str,
    ) -> None:
        content, headers = body(big_video, form)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            response = await client.post(
                "/v1/media", content=content, headers={**owner.headers, **headers}
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["size"], data["kind"]) == (SIZE, "video")
        assert peak < PEAK_LIMIT, f"peak {peak:,} bytes while uploading {SIZE:,}"
