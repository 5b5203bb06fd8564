"""What the client tells its observer about each call, and what its transport errors say."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.tiktok.conftest import (
    ACCESS_TOKEN,
    CLIENT_KEY,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    RecordingTransport,
    Sleeps,
    api_error,
    ok,
)
from zakipost.tiktok import (
    InvalidGrant,
    TikTokClient,
    TikTokError,
    TikTokRateLimited,
    TikTokTransportError,
    UploadInterrupted,
    plan_chunks,
)

UPLOAD_URL = "https://open-upload.tiktokapis.com/video/?upload_id=67890&upload_token=Xza123"


@pytest.fixture
def calls() -> list[tuple[str, str, float]]:
    return []


@pytest.fixture
def observed(
    http: httpx.AsyncClient, sleeps: Sleeps, calls: list[tuple[str, str, float]]
) -> TikTokClient:
    return TikTokClient(
        http,
        client_key=CLIENT_KEY,
        client_secret=CLIENT_SECRET,
        upload_retry_delays=(0.5,),
        upload_block_size=4,
        sleep=sleeps,
        observer=lambda endpoint, outcome, seconds: calls.append((endpoint, outcome, seconds)),
    )


def outcomes(calls: list[tuple[str, str, float]]) -> list[tuple[str, str]]:
    assert all(seconds >= 0 for _, _, seconds in calls)
    return [(endpoint, outcome) for endpoint, outcome, _ in calls]


class TestObserver:
    async def test_each_call_by_path_and_outcome(
        self,
        observed: TikTokClient,
        transport: RecordingTransport,
        calls: list[tuple[str, str, float]],
    ) -> None:
        transport.queue(
            ok({"status": "PROCESSING_UPLOAD"}),
            api_error(429, "rate_limit_exceeded"),
            api_error(400, "some_new_code"),
            httpx.ConnectError("connection refused"),
        )
        await observed.fetch_status(ACCESS_TOKEN, "v_pub_1")
        for _ in range(3):
            with pytest.raises(TikTokError):
                await observed.fetch_status(ACCESS_TOKEN, "v_pub_1")
        path = "/v2/post/publish/status/fetch/"
        assert outcomes(calls) == [
            (path, "ok"),
            (path, "rate_limit_exceeded"),
            # A code TikTok may add tomorrow does not become a label of its own.
            (path, "other_error"),
            (path, "transport_error"),
        ]

    async def test_oauth_calls_are_observed(
        self,
        observed: TikTokClient,
        transport: RecordingTransport,
        calls: list[tuple[str, str, float]],
    ) -> None:
        transport.queue(httpx.Response(200, json={"error": "invalid_grant"}))
        with pytest.raises(InvalidGrant):
            await observed.refresh(REFRESH_TOKEN)
        assert outcomes(calls) == [("/v2/oauth/token/", "invalid_grant")]

    async def test_each_chunk_put_is_observed(
        self,
        observed: TikTokClient,
        transport: RecordingTransport,
        calls: list[tuple[str, str, float]],
        tmp_path: Path,
    ) -> None:
        video = tmp_path / "v.mp4"
        video.write_bytes(b"x" * 10)
        transport.queue(httpx.Response(503), httpx.Response(201))
        await observed.upload(UPLOAD_URL, video, plan_chunks(10), content_type="video/mp4")
        assert outcomes(calls) == [("upload", "http_503"), ("upload", "ok")]


class TestTransportErrors:
    async def test_name_host_and_path_but_not_the_query(
        self, observed: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(httpx.ConnectError("connection refused"))
        with pytest.raises(TikTokTransportError) as caught:
            await observed.get_user_info(ACCESS_TOKEN, ["open_id"])
        message = str(caught.value)
        assert "open.tiktokapis.com" in message
        assert "GET /v2/user/info/" in message
        assert "fields=" not in message
        assert ACCESS_TOKEN not in message

    async def test_of_an_upload_name_host_and_path_but_not_the_token(
        self, observed: TikTokClient, transport: RecordingTransport, tmp_path: Path
    ) -> None:
        video = tmp_path / "v.mp4"
        video.write_bytes(b"x" * 10)
        transport.queue(httpx.ReadError("reset"), httpx.ReadError("reset"))
        with pytest.raises(UploadInterrupted) as caught:
            await observed.upload(UPLOAD_URL, video, plan_chunks(10), content_type="video/mp4")
        cause = caught.value.__cause__
        assert isinstance(cause, TikTokTransportError)
        assert "open-upload.tiktokapis.com (PUT /video/)" in str(cause)
        assert "Xza123" not in str(cause)

    async def test_rate_limits_are_still_their_own_class(
        self, observed: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(api_error(429, "rate_limit_exceeded"))
        with pytest.raises(TikTokRateLimited):
            await observed.query_creator_info(ACCESS_TOKEN)
