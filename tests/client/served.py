"""A served app (gateway, worker and sandbox on a loopback port) with an account whose keys
are in the environment of the commands run against it, and one connected TikTok account."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.browser.server import LiveApp
from tests.connection.conftest import CALLBACK_TARGET
from tests.fixtures.consent import consent
from tests.sandbox.media import make_video
from zakipost.account import service as account_service
from zakipost.client import Client
from zakipost.db.engine import create_engine, create_sessionmaker

ZAKIPOST = str(Path(sys.executable).with_name("zakipost"))


@dataclass
class Served:
    live: LiveApp
    env: dict[str, str]
    account_id: str
    video: Path


async def _owner(live: LiveApp) -> tuple[str, str]:
    settings = live.app.state.settings
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            _, credentials = await account_service.create(
                session,
                settings,
                live.app.state.vault,
                email="cli@example.com",
                password="correct horse battery",
                plan="pro",
                points_grant=10_000,
            )
    finally:
        await engine.dispose()
    return credentials.client_key, credentials.client_secret


async def _consent(base_url: str, authorize_url: str) -> str:
    async with httpx.AsyncClient(base_url=base_url) as browser:
        result = await consent(browser, authorize_url)
        back = await browser.get(result.location, follow_redirects=False)
    query = parse_qs(urlsplit(back.headers["location"]).query)
    return query["tiktok_account_id"][0]


def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The fixture's body (``served`` in conftest.py, one per module)."""
    root = tmp_path_factory.mktemp("served")
    live = LiveApp(root).start()
    try:
        key, secret = asyncio.run(_owner(live))
        with Client(live.url, client_key=key, client_secret=secret) as client:
            started = client.connect(CALLBACK_TARGET)
        account_id = asyncio.run(_consent(live.url, started.authorize_url))
        video = root / "clip.mp4"
        video.write_bytes(make_video(seconds=4))
        env = {
            **os.environ,
            "ZAKIPOST_API_URL": live.url,
            "ZAKIPOST_CLIENT_KEY": key,
            "ZAKIPOST_CLIENT_SECRET": secret,
        }
        env.pop("ZAKIPOST_API_KEY", None)
        yield Served(live, env, account_id, video)
    finally:
        live.stop()


def zakipost(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ZAKIPOST, *args], env=served.env, capture_output=True, text=True, timeout=600, check=False
    )
