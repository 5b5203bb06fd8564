"""Regression: a burst of publishes larger than the connection pool must not stall.

Authentication once kept its read session open for the whole request, so every publish held
two pooled connections at once; with the pool full of requests each waiting for its second
connection, the server stalled until the pool timeout and answered 500.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.connection.conftest import connect_via_api
from tests.fixtures.app import client_for, create_account, make_settings, running_app
from zakipost.db.engine import create_engine, create_sessionmaker
from zakipost.models import Post


async def test_burst_of_publishes_beyond_the_pool(tmp_path: Path, engine: AsyncEngine) -> None:
    # A pool of one connection plus one overflow: two requests fill it.
    small = create_engine(engine.url.render_as_string(hide_password=False), pool_size=1)
    settings = make_settings(tmp_path)
    try:
        async with running_app(settings, small) as app, client_for(app) as client:
            owner = await create_account(create_sessionmaker(small), settings, app.state.vault)
            account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
            body = {
                "video_url": "https://videos.example.com/a.mp4",
                "tiktok_account_id": account_id,
            }

            async def one() -> int:
                response = await client.post("/v1/tiktok/publish", json=body, headers=owner.headers)
                return response.status_code

            statuses = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(8))), 20)
        assert statuses == [200] * 8
        async with create_sessionmaker(small)() as session:
            assert await session.scalar(select(func.count()).select_from(Post)) == 8
    finally:
        await small.dispose()
