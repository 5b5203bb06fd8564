"""What the pipeline needs from the outside world, built once by the composition root."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.config import Settings
from zakipost.connection.tokens import TokenVault
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import Vault
from zakipost.media import Resolver
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
