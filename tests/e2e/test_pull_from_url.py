"""Media under a verified URL prefix goes by PULL_FROM_URL: TikTok (the sandbox) fetches it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.e2e.test_pipeline_rules import guarded_worker
from tests.e2e.test_publish_flow import publish, put, read, sandbox_posts
from tests.fixtures.app import client_for, create_account, make_settings, running_app
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video


async def test_verified_prefix_is_pulled_by_tiktok(
    tmp_path: Path,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    media_server: MediaServer,
) -> None:
    prefix = media_server.base_url + "/verified/"
    settings = make_settings(tmp_path, tiktok={"verified_url_prefixes": [prefix]})
    async with running_app(settings, engine) as app, client_for(app) as client:
        sandbox = app.state.sandbox_app.state.sandbox
        sandbox.config.verified_url_prefixes.append(prefix)
        (media_server.root / "verified").mkdir()
        video = make_video(seconds=4)
        url = put(media_server, "verified/clip.mp4", video)
        owner = await create_account(sessionmaker, settings, app.state.vault)
        account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
        publish_id = await publish(client, owner, video_url=url, tiktok_account_id=account_id)
        await settle(guarded_worker(app), sessionmaker)
        post = await read(client, owner, publish_id)
        [received] = await sandbox_posts(client)
    assert post["status"] == "published", post
    assert any("PULL_FROM_URL" in e["message"] for e in post["timeline"])
    assert received["source"] == "PULL_FROM_URL"
    assert received["media_sha256"] == hashlib.sha256(video).hexdigest()
    # ZakiPost probed the video itself (one fetch) and TikTok pulled it (a second).
    assert media_server.hits["/verified/clip.mp4"] == 2
