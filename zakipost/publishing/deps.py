"""What the pipeline needs from the outside world, built once by the composition root."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost import metrics
from zakipost.config import Settings
from zakipost.connection.tokens import TokenVault
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import Vault
from zakipost.media import FetchedMedia, Resolver, fetch_to_file
from zakipost.storage.base import MediaStore
from zakipost.tiktok import TikTokClient


@dataclass
class PipelineDeps:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    vault: Vault
    tiktok: TikTokClient
    tokens: TokenVault
    media_dir: Path
    store: MediaStore
    clock: Callable[[], dt.datetime] = utcnow
    # Transport for fetching media (tests route it in process); None: the real network.
    media_transport: httpx.AsyncBaseTransport | None = None
    media_resolver: Resolver | None = field(default=None)
    # How webhook deliveries resolve host names (tests: a fake DNS); None: the system's.
    webhook_resolver: Resolver | None = None
    # The jitter of webhook retries: a float in [0, 1) (tests: a seeded Random's random).
    webhook_rand: Callable[[], float] = random.random
    # Sessions for plain reads (create_read_sessionmaker): on SQLite they begin deferred and
    # do not queue for the write lock. None: ``sessionmaker``'s.
    read_sessionmaker: async_sessionmaker[AsyncSession] | None = None

    def read_session(self) -> AsyncSession:
        """A session for a read that writes nothing (see ``read_sessionmaker``)."""
        return (self.read_sessionmaker or self.sessionmaker)()

    async def fetch_media(
        self, url: str, dest_dir: Path, *, expect: Literal["video", "image"] = "video"
    ) -> FetchedMedia:
        """Stream ``url`` into a new file in ``dest_dir`` through the address guard, under
        the media settings."""
        media = self.settings.media
        fetched = await fetch_to_file(
            url,
            dest_dir,
            allow_private_networks=media.allow_private_networks,
            max_bytes=media.max_bytes,
            connect_timeout=media.connect_timeout_seconds,
            read_timeout=media.read_timeout_seconds,
            max_redirects=media.max_redirects,
            transport=self.media_transport,
            resolver=self.media_resolver,
            allowed_networks=media.allowed_networks,
            expect=expect,
        )
        metrics.media_bytes("fetched", fetched.size)
        return fetched
