"""Chunked PUTs to `upload_url` (§3.4): statuses, progress header, ordering, headers, window."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from .driver import MIB, Driver, chunk_plan, chunk_ranges
from .media import make_video, pad_mp4

MULTI = 11 * MIB  # two chunks of 5 MiB + a final one absorbing the tail
CHUNK = 5 * MIB


async def start(
    tt: Driver, data: bytes, chunk_size: int | None = None
) -> tuple[dict[str, str], str, str]:
    headers = await tt.auth()
    init = (await tt.init_file(headers, len(data), chunk_size)).json()["data"]
    return headers, init["publish_id"], init["upload_url"]


async def put(tt: Driver, url: str, data: bytes, first: int, last: int, total: int, **extra: str):
    headers = {
        "Content-Type": "video/mp4",
        "Content-Range": f"bytes {first}-{last}/{total}",
        **extra,
    }
    return await tt.http.put(url, content=data[first : last + 1], headers=headers)


class TestHappyPath:
    async def test_single_chunk(self, tt: Driver) -> None:
        data = make_video()
        headers, publish_id, url = await start(tt, data)
        [response] = await tt.put_all(url, data)
        assert response.status_code == 201
        assert response.headers["content-range"] == f"bytes 0-{len(data) - 1}/{len(data)}"
        status = await tt.status(headers, publish_id)
        assert status["status"] == "PUBLISH_COMPLETE"
        assert status["uploaded_bytes"] == len(data)
        post = await tt.post(publish_id)
        assert post["media_size"] == len(data)
        assert post["media_sha256"] == hashlib.sha256(data).hexdigest()

    async def test_multi_chunk_206_then_201(self, tt: Driver) -> None:
        data = pad_mp4(make_video(), MULTI)
        headers, publish_id, url = await start(tt, data, CHUNK)
        assert chunk_plan(len(data), CHUNK) == (CHUNK, 2)
        responses = await tt.put_all(url, data, CHUNK)
        assert [r.status_code for r in responses] == [206, 201]
        assert responses[0].headers["content-range"] == f"bytes 0-{CHUNK - 1}/{MULTI}"
        assert responses[1].headers["content-range"] == f"bytes 0-{MULTI - 1}/{MULTI}"
        stored = await tt.http.get(f"/_sandbox/posts/{publish_id}/media/0")
        assert hashlib.sha256(stored.content).hexdigest() == hashlib.sha256(data).hexdigest()
        assert (await tt.status(headers, publish_id))["status"] == "PUBLISH_COMPLETE"

    async def test_progress_between_chunks(self, tt: Driver) -> None:
        data = pad_mp4(make_video(), MULTI)
        headers, publish_id, url = await start(tt, data, CHUNK)
        assert (await put(tt, url, data, 0, CHUNK - 1, MULTI)).status_code == 206
        status = await tt.status(headers, publish_id)
        assert status == {
            "status": "PROCESSING_UPLOAD",
            "publicaly_available_post_id": [],
            "uploaded_bytes": CHUNK,
        }

    @pytest.mark.parametrize(
        "content_type", ["video/quicktime", "video/webm", "video/mp4; codecs=avc1"]
    )
    async def test_accepted_content_types(self, tt: Driver, content_type: str) -> None:
        data = make_video()
        _, _, url = await start(tt, data)
        [response] = await tt.put_all(url, data, content_type=content_type)
        assert response.status_code == 201


class TestOrdering:
    async def test_out_of_order_is_416(self, tt: Driver) -> None:
        data = pad_mp4(make_video(), MULTI)
        _, _, url = await start(tt, data, CHUNK)
        response = await put(tt, url, data, CHUNK, MULTI - 1, MULTI)
        assert response.status_code == 416
        assert response.headers["content-range"] == f"bytes */{MULTI}"

    async def test_replayed_chunk_is_416_with_progress(self, tt: Driver) -> None:
        data = pad_mp4(make_video(), MULTI)
        _, _, url = await start(tt, data, CHUNK)
        assert (await put(tt, url, data, 0, CHUNK - 1, MULTI)).status_code == 206
        replay = await put(tt, url, data, 0, CHUNK - 1, MULTI)
        assert replay.status_code == 416
        # The progress header proves the chunk was committed.
        assert replay.headers["content-range"] == f"bytes 0-{CHUNK - 1}/{MULTI}"
        assert (await put(tt, url, data, CHUNK, MULTI - 1, MULTI)).status_code == 201

    async def test_chunk_must_follow_declared_plan(self, tt: Driver) -> None:
        data = pad_mp4(make_video(), MULTI)
        _, _, url = await start(tt, data, CHUNK)
        assert (await put(tt, url, data, 0, CHUNK, MULTI)).status_code == 416
        assert (await put(tt, url, data, 0, CHUNK - 2, MULTI)).status_code == 416

    async def test_after_completion(self, tt: Driver) -> None:
        data = make_video()
        _, _, url = await start(tt, data)
        await tt.put_all(url, data)
        again = await tt.put_all(url, data)
        assert again[0].status_code == 416


class TestHeaders:
    @pytest.mark.parametrize(
        "headers",
        [
            {"Content-Type": "application/octet-stream"},
            {"Content-Type": "video/x-matroska"},
            {"Content-Range": None},
            {"Content-Range": "bytes 0-10"},
            {"Content-Range": "0-{last}/{total}"},
            {"Content-Range": "bytes */{total}"},
            {"Content-Range": "bytes 0-{last}/999999999"},
        ],
    )
    async def test_malformed_headers_are_400(self, tt: Driver, headers: dict[str, Any]) -> None:
        data = make_video()
        _, _, url = await start(tt, data)
        sent = {"Content-Type": "video/mp4", "Content-Range": "bytes 0-{last}/{total}", **headers}
        sent = {
            k: v.format(last=len(data) - 1, total=len(data))
            for k, v in sent.items()
            if v is not None
        }
        response = await tt.http.put(url, content=data, headers=sent)
        assert response.status_code == 400, response.text
        assert response.headers["content-range"] == f"bytes */{len(data)}"

    async def test_content_length_vs_range(self, tt: Driver) -> None:
        data = pad_mp4(make_video(), MULTI)
        _, _, url = await start(tt, data, CHUNK)
        headers = {"Content-Type": "video/mp4", "Content-Range": f"bytes 0-{CHUNK - 1}/{MULTI}"}
        response = await tt.http.put(url, content=data[: CHUNK - 1], headers=headers)
        assert response.status_code == 400

    async def test_body_shorter_than_content_length(
        self, tt: Driver, in_process_only: None
    ) -> None:
        data = make_video()
        headers_, publish_id, url = await start(tt, data)

        async def short_body():
            yield data[:1000]

        headers = {
            "Content-Type": "video/mp4",
            "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}",
            "Content-Length": str(len(data)),
        }
        response = await tt.http.put(url, content=short_body(), headers=headers)
        assert response.status_code == 400
        assert (await tt.status(headers_, publish_id))["uploaded_bytes"] == 0
        # The rolled-back attempt leaves no trace: a correct retry hashes to the right value.
        [retry] = await tt.put_all(url, data)
        assert retry.status_code == 201
        assert (await tt.post(publish_id))["media_sha256"] == hashlib.sha256(data).hexdigest()

    async def test_body_longer_than_content_length(self, tt: Driver, in_process_only: None) -> None:
        data = make_video()
        _, _, url = await start(tt, data)

        async def long_body():
            yield data + b"extra"

        headers = {
            "Content-Type": "video/mp4",
            "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}",
            "Content-Length": str(len(data)),
        }
        assert (await tt.http.put(url, content=long_body(), headers=headers)).status_code == 400


class TestTask:
    async def test_unknown_upload(self, tt: Driver) -> None:
        data = make_video()
        _, _, url = await start(tt, data)
        for bad in (
            url.replace("upload_id=", "upload_id=1"),
            url.split("&")[0] + "&upload_token=nope",
            "/upload/",
        ):
            response = await tt.http.put(
                bad,
                content=data,
                headers={
                    "Content-Type": "video/mp4",
                    "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}",
                },
            )
            assert response.status_code == 404

    async def test_url_expires_after_an_hour(self, tt: Driver) -> None:
        data = pad_mp4(make_video(), MULTI)
        _, _, url = await start(tt, data, CHUNK)
        assert (await put(tt, url, data, 0, CHUNK - 1, MULTI)).status_code == 206
        await tt.advance_clock(3600)
        response = await put(tt, url, data, CHUNK, MULTI - 1, MULTI)
        assert response.status_code == 403
        assert response.headers["content-range"] == f"bytes 0-{CHUNK - 1}/{MULTI}"

    async def test_no_authorization_header_needed(self, tt: Driver) -> None:
        data = make_video()
        _, _, url = await start(tt, data)
        assert "authorization" not in {k.lower() for k in tt.http.headers}
        assert (await tt.put_all(url, data))[0].status_code == 201

    async def test_other_methods(self, tt: Driver) -> None:
        _, _, url = await start(tt, make_video())
        assert (await tt.http.post(url, content=b"x")).status_code == 405

    async def test_inbox_upload(self, tt: Driver) -> None:
        data = pad_mp4(make_video(), MULTI)
        headers = await tt.auth()
        publish_id = await tt.upload_video(headers, data, CHUNK, inbox=True)
        assert (await tt.status(headers, publish_id))["status"] == "SEND_TO_USER_INBOX"

    async def test_ranges_helper_matches_doc_example(self) -> None:
        # The worked example of the media transfer guide.
        assert chunk_plan(50_000_123, 10_000_000) == (10_000_000, 5)
        assert chunk_ranges(50_000_123, 10_000_000, 5)[-1] == (40_000_000, 50_000_122)
