"""Fixtures for the media tests: scripted origins on two loopback addresses, fake DNS."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.media.server import MediaServer
from zakipost.media import fetch_to_file

# The origin (127.0.0.1) is treated as a public host through this allow-list entry; the
# internal server (127.0.0.2) stays forbidden, standing for any private service.
ORIGIN_NETWORK = ipaddress.ip_network("127.0.0.1/32")


class FakeDNS:
    """An injected resolver: fixed answers, every lookup recorded."""

    def __init__(self, records: dict[str, Sequence[str]] | None = None) -> None:
        self.records: dict[str, Sequence[str]] = dict(records or {})
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        if host not in self.records:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.records[host]


def leftovers(folder: Path) -> list[Path]:
    """The files in ``folder`` (sync, so async tests can call it)."""
    return sorted(folder.iterdir())


@pytest.fixture
async def origin() -> AsyncIterator[MediaServer]:
    server = await MediaServer("127.0.0.1").start()
    yield server
    await server.close()


@pytest.fixture
async def internal() -> AsyncIterator[MediaServer]:
    server = await MediaServer("127.0.0.2").start()
    yield server
    await server.close()


@pytest.fixture
def dns() -> FakeDNS:
    return FakeDNS(
        {
            "media.example": ["127.0.0.1"],
            "internal.example": ["127.0.0.2"],
            "loopback.example": ["127.0.0.1"],
        }
    )


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    path = tmp_path / "media"
    path.mkdir()
    return path


@pytest.fixture
def fetch(dest: Path, dns: FakeDNS) -> Any:
    """``fetch_to_file`` with the guard on, the origin allow-listed and the fake DNS."""
    return partial(
        fetch_to_file,
        dest_dir=dest,
        allow_private_networks=False,
        allowed_networks=[ORIGIN_NETWORK],
        max_bytes=50_000_000,
        connect_timeout=5.0,
        read_timeout=5.0,
        resolver=dns,
    )
