"""The FILE_UPLOAD PUT protocol: streaming, 206/201, retries, 416 resume, expiry (§3.4)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import httpx
import pytest

from tests.tiktok.conftest import RecordingTransport, Sleeps
from zakipost.tiktok import (
    ChunkPlan,
    TikTokClient,
    TikTokServerError,
    UploadError,
    UploadInterrupted,
    UploadProgress,
    UploadRangeMismatch,
    UploadTaskNotFound,
    UploadUrlExpired,
    plan_chunks,
)

UPLOAD_URL = "https://open-upload.tiktokapis.com/video/?upload_id=67890&upload_token=Xza123"
DATA = os.urandom(35)
PLAN = ChunkPlan.from_chunk_size(35, 10)  # ranges 0-9, 10-19, 20-34


def put(status: int, content_range: str | None = None) -> httpx.Response:
    headers = {"Content-Range": content_range} if content_range else {}
    return httpx.Response(status, headers=headers)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    path = tmp_path / "video.mp4"
    path.write_bytes(DATA)
    return path


def ranges(transport: RecordingTransport) -> list[str]:
    return [r.request.headers["Content-Range"] for r in transport.requests]


async def upload(client: TikTokClient, media: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return await client.upload(UPLOAD_URL, media, PLAN, content_type="video/mp4", **kwargs)  # type: ignore[arg-type]


class TestHappyPath:
    async def test_puts_each_chunk_in_order(
        self, client: TikTokClient, transport: RecordingTransport, media: Path
    ) -> None:
        transport.queue(put(206), put(206), put(201))
        seen: list[UploadProgress] = []
        outcome = await upload(client, media, progress=seen.append)
        assert outcome.completed
        assert (outcome.chunks_sent, outcome.chunks_skipped, outcome.requests) == (3, 0, 3)
        assert ranges(transport) == ["bytes 0-9/35", "bytes 10-19/35", "bytes 20-34/35"]
        for sent, (start, end) in zip(
            transport.requests, [(0, 10), (10, 20), (20, 35)], strict=True
        ):
            request = sent.request
            assert request.method == "PUT"
            assert str(request.url) == UPLOAD_URL
            assert request.headers["Content-Type"] == "video/mp4"
            assert request.headers["Content-Length"] == str(end - start)
            assert "Authorization" not in request.headers
            assert "Transfer-Encoding" not in request.headers
            assert sent.body == DATA[start:end]
        assert [p.next_offset for p in seen] == [10, 20, 35]
        assert seen[-1].complete

    async def test_body_is_streamed_in_blocks(
        self, client: TikTokClient, transport: RecordingTransport, media: Path
    ) -> None:
        transport.queue(put(206), put(206), put(201))
        await upload(client, media)
        for sent in transport.requests:
            assert sent.streamed, "the body must come from an iterator, not a bytes blob"
            assert len(sent.parts) > 1
            assert max(sent.parts) <= 4

    async def test_reads_an_opener_in_blocks(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        reads: list[int] = []

        class Spy(io.BytesIO):
            def read(self, size: int | None = -1) -> bytes:
                reads.append(-1 if size is None else size)
                return super().read(size)

        transport.queue(put(206), put(206), put(201))
        outcome = await client.upload(
            UPLOAD_URL, lambda: Spy(DATA), PLAN, content_type="video/webm"
        )
        assert outcome.completed
        assert reads
        assert all(0 < size <= 4 for size in reads)
        assert b"".join(r.body for r in transport.requests) == DATA

    async def test_real_plan_doc_example_ranges(
        self, http: httpx.AsyncClient, transport: RecordingTransport, tmp_path: Path
    ) -> None:
        path = tmp_path / "big.mp4"
        with path.open("wb") as handle:
            handle.truncate(50_000_123)
        plan = plan_chunks(50_000_123, chunk_size=10_000_000)
        client = TikTokClient(http, client_key="k", client_secret="s")
        transport.queue(*[put(206)] * 4, put(201))
        outcome = await client.upload(UPLOAD_URL, path, plan, content_type="video/mp4")
        assert outcome.completed
        assert ranges(transport)[-1] == "bytes 40000000-50000122/50000123"
        assert [len(r.body) for r in transport.requests] == [10_000_000] * 4 + [10_000_123]
        assert max(max(r.parts) for r in transport.requests) <= 1024 * 1024


class TestFinalChunkHook:
    async def test_runs_once_just_before_the_final_chunk(
        self, client: TikTokClient, transport: RecordingTransport, media: Path
    ) -> None:
        events: list[str] = []

        async def before_final() -> None:
            events.append(f"hook after {len(transport.requests)} requests")

        transport.queue(put(206), put(206), put(503), put(201))
        await upload(client, media, on_before_final_chunk=before_final)
        assert events == ["hook after 2 requests"]
        assert ranges(transport)[2:] == ["bytes 20-34/35", "bytes 20-34/35"]

    async def test_a_failing_hook_stops_the_final_chunk(
        self, client: TikTokClient, transport: RecordingTransport, media: Path
    ) -> None:
        def before_final() -> None:
            raise RuntimeError("database is down")

        transport.queue(put(206), put(206))
        with pytest.raises(RuntimeError, match="database"):
            await upload(client, media, on_before_final_chunk=before_final)
        assert ranges(transport) == ["bytes 0-9/35", "bytes 10-19/35"]


class TestRetries:
    @pytest.mark.parametrize("failure", [put(502), put(500), put(429), httpx.ReadTimeout("slow")])
    async def test_retries_the_same_chunk_with_backoff(
        self,
        client: TikTokClient,
        transport: RecordingTransport,
        sleeps: Sleeps,
        media: Path,
        failure: httpx.Response | Exception,
    ) -> None:
        transport.queue(put(206), failure, failure, put(206), put(201))
        outcome = await upload(client, media)
        assert outcome.completed
        assert outcome.requests == 5
        assert ranges(transport) == [
            "bytes 0-9/35",
            "bytes 10-19/35",
            "bytes 10-19/35",
            "bytes 10-19/35",
            "bytes 20-34/35",
        ]
        assert all(r.body == DATA[10:20] for r in transport.requests[1:4])
        assert sleeps.delays == [0.5, 1.0]

    async def test_gives_up_after_the_budget_with_progress(
        self, client: TikTokClient, transport: RecordingTransport, sleeps: Sleeps, media: Path
    ) -> None:
        transport.queue(put(206), *[put(502)] * 4)
        with pytest.raises(UploadInterrupted) as caught:
            await upload(client, media)
        exc = caught.value
        assert exc.retryable
        assert exc.http_status == 502
        assert exc.progress == UploadProgress(1, 10, 3, 35)
        assert isinstance(exc.__cause__, TikTokServerError)
        assert sleeps.delays == [0.5, 1.0, 2.0]
        assert "Xza123" not in str(exc) + repr(exc)


class TestResume:
    async def test_starts_at_a_persisted_offset(
        self, client: TikTokClient, transport: RecordingTransport, media: Path
    ) -> None:
        transport.queue(put(206), put(201))
        outcome = await upload(client, media, start_at=10)
        assert ranges(transport) == ["bytes 10-19/35", "bytes 20-34/35"]
        assert outcome.chunks_sent == 2

    @pytest.mark.parametrize("start_at", [5, 36, -1])
    async def test_start_at_must_be_a_chunk_boundary(
        self, client: TikTokClient, transport: RecordingTransport, media: Path, start_at: int
    ) -> None:
        with pytest.raises(ValueError, match="start_at"):
            await upload(client, media, start_at=start_at)
        assert transport.requests == []

    @pytest.mark.parametrize(
        "progress_header",
        ["bytes 0-19/35", "bytes 0-20/35"],
        ids=["last-byte-index", "byte-count"],
    )
    async def test_416_skips_to_where_tiktok_is(
        self,
        client: TikTokClient,
        transport: RecordingTransport,
        media: Path,
        progress_header: str,
    ) -> None:
        transport.queue(put(416, progress_header), put(201))
        seen: list[UploadProgress] = []
        outcome = await upload(client, media, progress=seen.append)
        assert ranges(transport) == ["bytes 0-9/35", "bytes 20-34/35"]
        assert (outcome.chunks_sent, outcome.chunks_skipped) == (1, 2)
        assert [p.next_offset for p in seen] == [20, 35]

    async def test_lost_reply_then_416_moves_on_without_resending(
        self, client: TikTokClient, transport: RecordingTransport, media: Path
    ) -> None:
        transport.queue(put(206), httpx.ReadError("reset"), put(416, "bytes 0-19/35"), put(201))
        outcome = await upload(client, media)
        assert outcome.completed
        assert ranges(transport) == [
            "bytes 0-9/35",
            "bytes 10-19/35",
            "bytes 10-19/35",
            "bytes 20-34/35",
        ]

    async def test_416_proving_everything_arrived_completes(
        self, client: TikTokClient, transport: RecordingTransport, media: Path
    ) -> None:
        transport.queue(put(206), put(206), put(416, "bytes 0-34/35"))
        outcome = await upload(client, media)
        assert outcome.completed
        assert outcome.progress.next_chunk_index == 3

    @pytest.mark.parametrize(
        "progress_header",
        [None, "bytes 0-14/35", "bytes 0-9/35", "bytes */35", "garbage"],
        ids=["absent", "mid-chunk", "behind", "unsatisfied", "garbage"],
    )
    async def test_416_that_does_not_point_forward_is_a_mismatch(
        self,
        client: TikTokClient,
        transport: RecordingTransport,
        media: Path,
        progress_header: str | None,
    ) -> None:
        transport.queue(put(206), put(416, progress_header))
        with pytest.raises(UploadRangeMismatch) as caught:
            await upload(client, media)
        assert caught.value.progress == UploadProgress(1, 10, 3, 35)
        assert len(transport.requests) == 2


class TestFailures:
    @pytest.mark.parametrize(
        ("status", "cls"),
        [(403, UploadUrlExpired), (404, UploadTaskNotFound), (400, UploadError)],
    )
    async def test_client_errors_stop_the_upload(
        self,
        client: TikTokClient,
        transport: RecordingTransport,
        media: Path,
        status: int,
        cls: type[UploadError],
    ) -> None:
        transport.queue(put(206), put(status))
        with pytest.raises(cls) as caught:
            await upload(client, media)
        assert type(caught.value) is cls
        assert (caught.value.http_status, caught.value.retryable) == (status, False)
        assert caught.value.progress is not None
        assert caught.value.progress.next_offset == 10
        assert len(transport.requests) == 2

    async def test_reads_a_json_error_body(
        self, client: TikTokClient, transport: RecordingTransport, media: Path
    ) -> None:
        body = {"error": {"code": "invalid_file_upload", "message": "bad", "log_id": "L"}}
        transport.queue(httpx.Response(400, json=body))
        with pytest.raises(UploadError) as caught:
            await upload(client, media)
        assert (caught.value.code, caught.value.message, caught.value.log_id) == (
            "invalid_file_upload",
            "bad",
            "L",
        )

    async def test_206_on_the_final_chunk_is_a_mismatch(
        self, client: TikTokClient, transport: RecordingTransport, media: Path
    ) -> None:
        transport.queue(put(206), put(206), put(206))
        with pytest.raises(UploadRangeMismatch):
            await upload(client, media)

    async def test_file_size_must_match_the_plan(
        self, client: TikTokClient, transport: RecordingTransport, tmp_path: Path
    ) -> None:
        path = tmp_path / "short.mp4"
        path.write_bytes(DATA[:30])
        with pytest.raises(ValueError, match="30 bytes"):
            await upload(client, path)
        assert transport.requests == []

    async def test_content_type_must_be_a_video_type(
        self, client: TikTokClient, media: Path
    ) -> None:
        with pytest.raises(ValueError, match="content_type"):
            await client.upload(UPLOAD_URL, media, PLAN, content_type="application/octet-stream")
