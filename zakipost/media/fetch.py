"""Fetch a caller's media URL to a file, streaming, behind the SSRF guard.

Memory stays constant in the size of the file: the body goes to disk in blocks of
:data:`BLOCK_SIZE`, hashed as it is written. Redirects are followed by hand so that each
hop is checked; addresses are checked at connect time (see ``_transport``). An injected
``transport`` (tests) cannot be checked at connect time, so every hop's host is resolved and
checked before the request instead (unless ``allow_private_networks`` lifts the rule, when
nothing is resolved: an in-process transport may serve names no DNS knows).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import anyio
import httpx

from zakipost.logging import get_logger
from zakipost.media._sniff import refused_content_type, sniffed_non_media
from zakipost.media._transport import GuardedTransport
from zakipost.media.errors import (
    MediaFetchTimeout,
    MediaNotAnImage,
    MediaNotAVideo,
    MediaOriginError,
    MediaTooLarge,
    MediaTooManyRedirects,
    MediaUrlInvalid,
    MediaUrlUnreachable,
)
from zakipost.media.guard import (
    AddressPolicy,
    IPNetwork,
    Resolver,
    check_url_address,
    check_url_syntax,
)

BLOCK_SIZE = 1 << 20
"""Bytes gathered before one write to disk; the fetcher holds about two blocks at most."""
SNIFF_SIZE = 512

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = {
    "User-Agent": "ZakiPost media fetcher",
    "Accept": "video/*, image/*, application/octet-stream;q=0.9, */*;q=0.5",
    "Accept-Encoding": "identity",
}
_SUFFIXES = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
}

log = get_logger("zakipost.media")


@dataclass(frozen=True)
class FetchedMedia:
    """A fetched file: where it is, its size and SHA-256, and what the origin said it was."""

    path: Path
    size: int
    content_type: str
    final_url: str
    sha256: str


async def fetch_to_file(
    url: str,
    dest_dir: Path | str,
    *,
    allow_private_networks: bool,
    max_bytes: int,
    connect_timeout: float,
    read_timeout: float,
    max_redirects: int = 5,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    allowed_networks: Iterable[IPNetwork] = (),
    expect: Literal["video", "image"] = "video",
) -> FetchedMedia:
    """Download ``url`` into a new file in ``dest_dir`` and return it.

    ``allowed_networks`` are exempt from the address rule (a development allow-list);
    ``expect`` only words the error for a web page instead of media. On any failure no file
    is left behind. Raises the :mod:`zakipost.media.errors` fetch errors.
    """
    policy = AddressPolicy(allow_private_networks, tuple(allowed_networks))
    own_transport = transport is None
    active = transport or GuardedTransport(policy=policy, resolver=resolver)
    timeout = httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
    )
    started = time.monotonic()
    try:
        current = check_url_syntax(
            url,
            allow_private_networks=allow_private_networks,
            allowed_networks=policy.allowed_networks,
        )
        for hop in range(max_redirects + 1):
            if not own_transport and not allow_private_networks:
                await check_url_address(
                    str(current),
                    allow_private_networks=allow_private_networks,
                    resolver=resolver,
                    allowed_networks=policy.allowed_networks,
                    resolve_timeout=connect_timeout,
                )
            request = httpx.Request(
                "GET", current, headers=_HEADERS, extensions={"timeout": timeout.as_dict()}
            )
            with _network_errors(current, timeout):
                response = await active.handle_async_request(request)
            try:
                if response.status_code not in _REDIRECTS:
                    media = await _save(
                        response, current, Path(dest_dir), max_bytes, expect, timeout
                    )
                    log.info(
                        "media_fetched",
                        url=_shown(current),
                        size=media.size,
                        content_type=media.content_type,
                        redirects=hop,
                        seconds=round(time.monotonic() - started, 3),
                    )
                    return media
                location = response.headers.get("location")
            finally:
                await response.aclose()
            if not location:
                raise MediaOriginError(
                    f"The server at {current.host} answered with a redirect "
                    f"({response.status_code}) but no Location.",
                    http_status=response.status_code,
                )
            current = check_url_syntax(
                str(current.join(location)),
                allow_private_networks=allow_private_networks,
                allowed_networks=policy.allowed_networks,
            )
            log.debug("media_redirect", to=_shown(current), hop=hop + 1)
        raise MediaTooManyRedirects(
            f"The media URL redirected more than {max_redirects} times; "
            "give the final address of the file.",
            details={"max_redirects": max_redirects},
        )
    finally:
        if own_transport:
            await active.aclose()


async def _save(
    response: httpx.Response,
    url: httpx.URL,
    dest_dir: Path,
    max_bytes: int,
    expect: Literal["video", "image"],
    timeouts: httpx.Timeout,
) -> FetchedMedia:
    status = response.status_code
    if status >= 400:
        advice = (
            "the server had a problem; try again later"
            if status >= 500
            else "check that the link is public and points at the file"
        )
        raise MediaOriginError(
            f"The server at {url.host} answered HTTP {status} "
            f"{httpx.codes.get_reason_phrase(status)} for {_shown(url)}; {advice}.",
            http_status=status,
        )
    if status not in (200, 203):
        raise MediaOriginError(
            f"The server at {url.host} answered HTTP {status} instead of the file.",
            http_status=status,
        )
    content_type = _media_type(response.headers.get("content-type"))
    refused = refused_content_type(content_type)
    if refused:
        raise _not_media(refused, expect, content_type)
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise MediaOriginError(
            f"The server at {url.host} sent the file compressed (Content-Encoding: {encoding}) "
            "although ZakiPost asked for it as is; serve the file without compression.",
            http_status=status,
        )
    declared = _content_length(response)
    if declared is not None and declared > max_bytes:
        raise _too_large(declared, max_bytes)

    file, part = await anyio.to_thread.run_sync(_create_part_file, dest_dir)
    sink = _Sink(file)
    try:
        size = 0
        buffer = bytearray()
        sniffed = False
        with _network_errors(url, timeouts):
            # Content-Encoding is refused above, so these are the bytes as sent.
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(size, max_bytes, streamed=True)
                buffer += chunk
                if not sniffed and len(buffer) >= SNIFF_SIZE:
                    _check_head(bytes(buffer[:SNIFF_SIZE]), expect, content_type)
                    sniffed = True
                if len(buffer) >= BLOCK_SIZE:
                    await sink.write(buffer)
                    buffer = bytearray()
        if not sniffed:
            _check_head(bytes(buffer), expect, content_type)
        if buffer:
            await sink.write(buffer)
        await sink.flush()
        await anyio.to_thread.run_sync(sink.close)
        path = part.with_suffix(_SUFFIXES.get(content_type, ".bin"))
        await anyio.to_thread.run_sync(part.rename, path)
    except BaseException:
        with contextlib.suppress(OSError):
            sink.close()
        part.unlink(missing_ok=True)
        raise
    return FetchedMedia(
        path=path,
        size=size,
        content_type=content_type or "application/octet-stream",
        final_url=str(url),
        sha256=sink.hexdigest(),
    )


class _Sink:
    """Writes and hashes each block in a worker thread while the next block is read.

    At most one block is in flight, so memory stays at about two blocks and the hash sees
    the blocks in order; network reads and disk/hash work overlap on separate cores.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._hash = hashlib.sha256()
        self._pending: asyncio.Future[None] | None = None

    def _write(self, data: bytearray) -> None:
        self._file.write(data)
        self._hash.update(data)

    async def write(self, data: bytearray) -> None:
        await self.flush()
        self._pending = asyncio.get_running_loop().run_in_executor(None, self._write, data)

    async def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending

    def close(self) -> None:
        # A write still running in its thread holds the file's lock; close waits for it.
        self._file.close()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _create_part_file(dest_dir: Path) -> tuple[BinaryIO, Path]:
    fd, name = tempfile.mkstemp(dir=dest_dir, prefix="fetch-", suffix=".part")
    return os.fdopen(fd, "wb"), Path(name)


@contextlib.contextmanager
def _network_errors(url: httpx.URL, timeout: httpx.Timeout) -> Iterator[None]:
    host = url.host
    try:
        yield
    except httpx.ConnectTimeout:
        raise MediaFetchTimeout(
            f"Connecting to {host} took longer than {timeout.connect:g} s."
        ) from None
    except httpx.TimeoutException:
        raise MediaFetchTimeout(
            f"The server at {host} sent nothing for {timeout.read:g} s; try again later "
            "or use a faster host."
        ) from None
    except httpx.UnsupportedProtocol as exc:
        raise MediaUrlInvalid(f"The media URL cannot be fetched: {exc}.") from None
    except httpx.ConnectError as exc:
        raise MediaUrlUnreachable(f"Could not connect to {host}: {exc}.") from None
    except httpx.TransportError as exc:
        raise MediaUrlUnreachable(
            f"The connection to {host} broke off during the download: {exc}."
        ) from None


def _shown(url: httpx.URL) -> str:
    # Query strings often carry signatures (presigned S3 links); keep them out of messages.
    return str(url.copy_with(query=None, fragment=None))


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _content_length(response: httpx.Response) -> int | None:
    try:
        value = int(response.headers.get("content-length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _check_head(head: bytes, expect: Literal["video", "image"], content_type: str) -> None:
    what = sniffed_non_media(head)
    if what:
        raise _not_media(what, expect, content_type)


def _not_media(what: str, expect: Literal["video", "image"], content_type: str) -> MediaNotAVideo:
    error = MediaNotAnImage if expect == "image" else MediaNotAVideo
    return error(
        f"The URL returned {what}, not {'an image' if expect == 'image' else 'a video'} file; "
        "give a direct link to the file itself.",
        details={"content_type": content_type or None},
    )


def _too_large(size: int, max_bytes: int, *, streamed: bool = False) -> MediaTooLarge:
    amount = f"larger than {_human(max_bytes)}" if streamed else _human(size)
    return MediaTooLarge(
        f"The file is {amount}; the limit is {_human(max_bytes)}.",
        details={"max_bytes": max_bytes},
    )


def _human(size: int) -> str:
    for unit, scale in (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"
