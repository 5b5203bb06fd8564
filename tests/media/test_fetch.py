"""The streaming fetcher against scripted origins on 127.0.0.1 (allow-listed as "public")
and 127.0.0.2 (internal: must never be contacted)."""

from __future__ import annotations

import hashlib
import ipaddress
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.media.conftest import FakeDNS, leftovers
from tests.media.factories import MP4_HEAD, fake_video_body
from tests.media.server import Exchange, MediaServer
from zakipost.media import (
    MediaFetchTimeout,
    MediaNotAnImage,
    MediaNotAVideo,
    MediaOriginError,
    MediaTooLarge,
    MediaTooManyRedirects,
    MediaUrlForbidden,
    MediaUrlUnreachable,
)
from zakipost.media.fetch import BLOCK_SIZE


async def test_fetches_a_video_to_a_file(fetch: Any, origin: MediaServer, dest: Path) -> None:
    body = origin.video("/v.mp4", size=300_000)
    media = await fetch(origin.url("/v.mp4"))
    assert media.path.parent == dest
    assert media.path.suffix == ".mp4"
    assert media.path.read_bytes() == body
    assert media.size == len(body)
    assert media.sha256 == hashlib.sha256(body).hexdigest()
    assert media.content_type == "video/mp4"
    assert media.final_url == origin.url("/v.mp4")
    assert leftovers(dest) == [media.path]


async def test_host_name_is_kept_while_the_checked_address_is_used(
    fetch: Any, origin: MediaServer, dns: FakeDNS
) -> None:
    origin.video("/v.mp4")
    media = await fetch(origin.url("/v.mp4", host="media.example"))
    assert origin.requests[0].headers["host"] == f"media.example:{origin.port}"
    assert media.final_url == origin.url("/v.mp4", host="media.example")
    assert dns.calls == ["media.example"]


async def test_follows_redirects_within_the_limit(fetch: Any, origin: MediaServer) -> None:
    origin.redirect("/a", "/b", status=301)
    origin.redirect("/b", origin.url("/v.mp4", host="media.example"), status=307)
    body = origin.video("/v.mp4")
    media = await fetch(origin.url("/a"), max_redirects=2)
    assert media.path.read_bytes() == body
    assert media.final_url.endswith("/v.mp4")


async def test_too_many_redirects(fetch: Any, origin: MediaServer, dest: Path) -> None:
    for hop in range(5):
        origin.redirect(f"/r{hop}", f"/r{hop + 1}")
    with pytest.raises(MediaTooManyRedirects) as caught:
        await fetch(origin.url("/r0"), max_redirects=2)
    assert caught.value.code == "media_too_many_redirects"
    assert origin.total_hits == 3
    assert leftovers(dest) == []


# -- SSRF: nothing reaches a forbidden address -------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.2", "2130706434", "0x7f000002", "127.2", "[::ffff:127.0.0.2]", "internal.example"],
)
async def test_internal_address_is_never_contacted(
    fetch: Any, internal: MediaServer, host: str
) -> None:
    internal.video("/v.mp4")
    with pytest.raises(MediaUrlForbidden) as caught:
        await fetch(internal.url("/v.mp4", host=host))
    assert caught.value.retryable is False
    assert internal.connections == 0


async def test_hostname_resolving_to_loopback_fetches_nothing(
    fetch: Any, origin: MediaServer
) -> None:
    origin.video("/v.mp4")
    with pytest.raises(MediaUrlForbidden, match="loopback"):
        await fetch(origin.url("/v.mp4", host="loopback.example"), allowed_networks=())
    assert origin.connections == 0


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/v.mp4",
        "http://2130706434:{port}/v.mp4",
        "http://[::ffff:127.0.0.2]:{port}/v.mp4",
        "http://internal.example:{port}/v.mp4",
    ],
)
async def test_redirect_to_internal_address_is_refused(
    fetch: Any, origin: MediaServer, internal: MediaServer, dest: Path, target: str
) -> None:
    internal.video("/v.mp4")
    origin.redirect("/go", target.format(port=internal.port))
    with pytest.raises(MediaUrlForbidden):
        await fetch(origin.url("/go", host="media.example"))
    assert origin.hits["/go"] == 1
    assert internal.connections == 0
    assert leftovers(dest) == []


async def test_redirect_to_metadata_address_is_refused(fetch: Any, origin: MediaServer) -> None:
    origin.redirect("/go", "http://169.254.169.254/latest/meta-data/iam/")
    with pytest.raises(MediaUrlForbidden, match="link-local"):
        await fetch(origin.url("/go"))


async def test_each_connection_uses_the_one_checked_lookup(origin: MediaServer, dest: Path) -> None:
    # A rebinding server answers differently the second time; there must be no second time.
    answers = [["127.0.0.1"], ["10.0.0.1"]]
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), 2) - 1]

    origin.video("/v.mp4")
    from zakipost.media import fetch_to_file

    await fetch_to_file(
        origin.url("/v.mp4", host="rebind.example"),
        dest,
        allow_private_networks=False,
        allowed_networks=[ipaddress.ip_network("127.0.0.1/32")],
        max_bytes=10_000_000,
        connect_timeout=5,
        read_timeout=5,
        resolver=rebinding,
    )
    assert calls == ["rebind.example"]


async def test_injected_transport_is_checked_before_each_request(fetch: Any, dns: FakeDNS) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://internal.example/v.mp4"})

    with pytest.raises(
        MediaUrlForbidden, match=r"internal\.example, which resolves to 127\.0\.0\.2"
    ):
        await fetch("http://media.example/start", transport=httpx.MockTransport(handler))
    assert seen == ["http://media.example/start"]


# -- not media -----------------------------------------------------------------------------

PAGE = b"<!DOCTYPE html><html><head><title>Google Drive</title></head><body>...</body></html>"


async def test_html_page_is_refused_by_content_type(
    fetch: Any, origin: MediaServer, dest: Path
) -> None:
    origin.serve("/share", PAGE, content_type="text/html; charset=utf-8")
    with pytest.raises(MediaNotAVideo) as caught:
        await fetch(origin.url("/share"))
    assert caught.value.message == (
        "The URL returned a web page (text/html), not a video file; "
        "give a direct link to the file itself."
    )
    assert caught.value.code == "media_not_a_video"
    assert leftovers(dest) == []


@pytest.mark.parametrize(
    ("body", "content_type", "what"),
    [
        (
            b'{"error": "not found", "files": []}',
            "application/json",
            "a JSON document (application/json)",
        ),
        (b'{"error": "not found"}' + b" " * 600, "application/octet-stream", "a JSON document"),
        (b"\n\n  " + PAGE * 10, "video/mp4", "a web page (HTML)"),
        (PAGE, None, "a web page (HTML)"),
        (b"Access denied", "binary/octet-stream", "a text document"),
        (b"", "video/mp4", "an empty file"),
        (b"id,name\n1,two\n", "text/csv", "a text document (text/csv)"),
    ],
)
async def test_non_media_answers_are_refused(
    fetch: Any, origin: MediaServer, dest: Path, body: bytes, content_type: str | None, what: str
) -> None:
    origin.serve("/x", body, content_type=content_type)
    with pytest.raises(MediaNotAVideo) as caught:
        await fetch(origin.url("/x"))
    assert caught.value.message.startswith(f"The URL returned {what}, not a video file")
    assert leftovers(dest) == []


async def test_image_fetch_words_the_refusal_for_images(fetch: Any, origin: MediaServer) -> None:
    origin.serve("/p", PAGE, content_type="text/html")
    with pytest.raises(MediaNotAnImage, match="not an image file") as caught:
        await fetch(origin.url("/p"), expect="image")
    assert caught.value.code == "media_not_an_image"


# -- origin errors, sizes, timeouts ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"), [(404, False), (403, False), (429, True), (500, True), (503, True)]
)
async def test_origin_error_status(
    fetch: Any, origin: MediaServer, status: int, retryable: bool
) -> None:
    origin.serve("/v.mp4", b"nope", content_type="text/plain", status=status)
    with pytest.raises(MediaOriginError) as caught:
        await fetch(origin.url("/v.mp4?token=secret"))
    assert caught.value.http_status == status
    assert caught.value.retryable is retryable
    assert f"HTTP {status}" in caught.value.message
    assert "secret" not in caught.value.message


async def test_content_length_over_cap_is_refused_up_front(
    fetch: Any, origin: MediaServer, dest: Path
) -> None:
    origin.serve("/big.mp4", fake_video_body(3_000_000), length=3_000_000)
    with pytest.raises(MediaTooLarge) as caught:
        await fetch(origin.url("/big.mp4"), max_bytes=1_000_000)
    assert caught.value.message == "The file is 3 MB; the limit is 1 MB."
    assert leftovers(dest) == []


async def test_streamed_body_over_cap_is_cut_and_deleted(
    fetch: Any, origin: MediaServer, dest: Path
) -> None:
    origin.serve("/big.mp4", fake_video_body(5_000_000))  # no Content-Length
    with pytest.raises(MediaTooLarge, match="larger than 3 MB"):
        await fetch(origin.url("/big.mp4"), max_bytes=3_000_000)
    assert leftovers(dest) == []


async def test_body_cut_short_is_retryable_and_deleted(
    fetch: Any, origin: MediaServer, dest: Path
) -> None:
    origin.serve("/v.mp4", fake_video_body(2_500_000), length=4_000_000)
    with pytest.raises(MediaUrlUnreachable) as caught:
        await fetch(origin.url("/v.mp4"))
    assert caught.value.retryable is True
    assert leftovers(dest) == []


async def test_compressed_answer_is_refused(fetch: Any, origin: MediaServer) -> None:
    origin.serve("/v.mp4", MP4_HEAD, headers={"Content-Encoding": "gzip"})
    with pytest.raises(MediaOriginError, match="Content-Encoding: gzip"):
        await fetch(origin.url("/v.mp4"))


async def test_connection_refused_is_retryable(fetch: Any, origin: MediaServer) -> None:
    url = origin.url("/v.mp4")
    await origin.close()
    with pytest.raises(MediaUrlUnreachable) as caught:
        await fetch(url)
    assert caught.value.retryable is True


async def test_unknown_host(fetch: Any) -> None:
    with pytest.raises(MediaUrlUnreachable, match="could not be found"):
        await fetch("http://nowhere.example/v.mp4")


async def test_read_timeout_before_headers(fetch: Any, origin: MediaServer, dest: Path) -> None:
    async def silent(exchange: Exchange) -> None:
        await exchange.stall()

    origin.route("/slow", silent)
    with pytest.raises(MediaFetchTimeout) as caught:
        await fetch(origin.url("/slow"), read_timeout=0.2)
    assert caught.value.retryable is True
    assert caught.value.code == "media_fetch_timeout"


async def test_read_timeout_mid_body_deletes_the_partial_file(
    fetch: Any, origin: MediaServer, dest: Path
) -> None:
    async def stalls_midway(exchange: Exchange) -> None:
        await exchange.head(200, {"Content-Type": "video/mp4", "Content-Length": "3000000"})
        await exchange.body(fake_video_body(1_500_000))
        await exchange.stall()

    origin.route("/slow", stalls_midway)
    with pytest.raises(MediaFetchTimeout, match=r"sent nothing for 0\.2 s"):
        await fetch(origin.url("/slow"), read_timeout=0.2)
    assert leftovers(dest) == []


async def test_connect_phase_timeout(fetch: Any) -> None:
    async def hangs(host: str, port: int) -> list[str]:
        import anyio

        await anyio.sleep_forever()
        raise AssertionError

    with pytest.raises(MediaFetchTimeout, match=r"Connecting to slow\.example"):
        await fetch("http://slow.example/v.mp4", resolver=hangs, connect_timeout=0.05)


# -- constant memory -----------------------------------------------------------------------


async def test_streams_without_buffering_the_body(
    fetch: Any, origin: MediaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 16_000_000
    origin.serve("/big.mp4", fake_video_body(size), length=size)
    from zakipost.media import fetch as fetch_module

    writes: list[int] = []
    original = fetch_module._Sink._write

    def spy(self: Any, data: bytearray) -> None:
        writes.append(len(data))
        original(self, data)

    monkeypatch.setattr(fetch_module._Sink, "_write", spy)
    tracemalloc.start()
    try:
        media = await fetch(origin.url("/big.mp4"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert media.size == size
    assert media.sha256 == hashlib.sha256(b"".join(fake_video_body(size))).hexdigest()
    assert max(writes) < BLOCK_SIZE + 256 * 1024
    assert len(writes) >= size // (BLOCK_SIZE + 256 * 1024)
    # About two blocks in flight plus the transport's reads; the body is four times that.
    assert peak < 4 * BLOCK_SIZE, f"peak traced memory {peak:,} bytes for a {size:,} byte body"


async def test_injected_transport_with_the_rule_lifted_resolves_nothing(
    fetch: Any, dns: FakeDNS, dest: Path
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=MP4_HEAD * 40, headers={"Content-Type": "video/mp4"})

    media = await fetch(
        "http://in-process.test/v.mp4",
        transport=httpx.MockTransport(handler),
        allow_private_networks=True,
    )
    assert media.size == len(MP4_HEAD) * 40
    assert dns.calls == []
