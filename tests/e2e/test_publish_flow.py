"""API → worker → sandbox: a video published end to end, and every way it can fail."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from zakipost.billing import points
from zakipost.config import Settings
from zakipost.models import PointEntry
from zakipost.worker import Worker


def put(server: MediaServer, name: str, data: bytes) -> str:
    (server.root / name).write_bytes(data)
    return server.url(name)


async def publish(client: httpx.AsyncClient, owner: AccountWithKeys, **fields: object) -> str:
    response = await client.post("/v1/tiktok/publish", json=fields, headers=owner.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["publish_id"])


async def read(client: httpx.AsyncClient, owner: AccountWithKeys, publish_id: str) -> dict:
    response = await client.get(f"/v1/tiktok/publish/{publish_id}", headers=owner.headers)
    assert response.status_code == 200
    return dict(response.json()["data"])


async def sandbox_posts(client: httpx.AsyncClient) -> list[dict]:
    response = await client.get("http://127.0.0.1:8000/sandbox/_sandbox/posts")
    assert response.status_code == 200
    data = response.json()
    return list(data["posts"] if isinstance(data, dict) else data)


@pytest.fixture
async def account_id(client: httpx.AsyncClient, owner: AccountWithKeys) -> str:
    return (await connect_via_api(client, owner))["tiktok_account_id"]


class TestPublishVideo:
    async def test_published_end_to_end(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        video = make_video(seconds=4)
        publish_id = await publish(
            client,
            owner,
            video_url=put(media_server, "clip.mp4", video),
            tiktok_account_id=account_id,
            title="Hello #zakipost",
            privacy_level="PUBLIC_TO_EVERYONE",
            disable_comment=False,
            disable_duet=True,
            ai_generated_content=True,
        )
        await settle(worker, sessionmaker)

        post = await read(client, owner, publish_id)
        assert post["status"] == "published", post
        assert post["tiktok_publish_id"]
        assert post["error"] is None
        steps = [event["step"] for event in post["timeline"]]
        assert (
            steps.index("fetching") < steps.index("initializing") < steps.index("awaiting_tiktok")
        )

        [received] = await sandbox_posts(client)
        assert received["publish_id"] == post["tiktok_publish_id"]
        assert received["media_sha256"] == hashlib.sha256(video).hexdigest()
        assert received["title"] == "Hello #zakipost"
        assert received["privacy_level"] == "PUBLIC_TO_EVERYONE"
        assert received["disable_duet"] is True and received["disable_comment"] is False
        assert received["is_aigc"] is True
        # The fetched copy is gone once the post is final.
        assert settings.media_dir.is_dir()
        assert not any(settings.media_dir.glob("*"))

    async def test_privacy_level_the_creator_does_not_offer_fails_and_refunds(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        app,
    ) -> None:
        # The second sandbox creator is a private account: no PUBLIC_TO_EVERYONE.
        private = (await connect_via_api(client, owner, creator_index=1))["tiktok_account_id"]
        publish_id = await publish(
            client,
            owner,
            video_url=put(media_server, "clip.mp4", make_video(seconds=4)),
            tiktok_account_id=private,
            privacy_level="PUBLIC_TO_EVERYONE",
        )
        await settle(worker, sessionmaker)
        post = await read(client, owner, publish_id)
        assert post["status"] == "failed"
        assert post["error"]["code"] == "privacy_level_not_allowed"
        assert "SELF_ONLY" in post["error"]["message"]
        assert await sandbox_posts(client) == []

    @pytest.mark.parametrize(
        ("video_kwargs", "reason", "words"),
        [
            ({"seconds": 2}, "duration_check_failed", "3 s"),
            ({"width": 320, "height": 240}, "picture_size_check_failed", "360"),
            ({"fps": 15}, "frame_rate_check_failed", "23"),
        ],
    )
    async def test_media_tiktok_would_refuse_fails_before_tiktok(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        video_kwargs,
        reason: str,
        words: str,
    ) -> None:
        publish_id = await publish(
            client,
            owner,
            video_url=put(media_server, "bad.mp4", make_video(**video_kwargs)),
            tiktok_account_id=account_id,
        )
        await settle(worker, sessionmaker)
        post = await read(client, owner, publish_id)
        assert post["status"] == "failed"
        assert post["error"]["tiktok_fail_reason"] == reason
        assert words in post["error"]["message"]
        assert await sandbox_posts(client) == []

    async def test_too_long_for_the_creator(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        sandbox,
    ) -> None:
        # The fourth sandbox creator may post at most a short video.
        short = (await connect_via_api(client, owner, creator_index=3))["tiktok_account_id"]
        limit = (await client.get(f"/v1/tiktok/accounts/{short}", headers=owner.headers)).json()[
            "data"
        ]["creator_info"]["max_video_post_duration_sec"]
        publish_id = await publish(
            client,
            owner,
            video_url=put(
                media_server,
                "long.mp4",
                make_video(seconds=limit + 2, fps=24, width=360, height=640),
            ),
            tiktok_account_id=short,
        )
        await settle(worker, sessionmaker)
        post = await read(client, owner, publish_id)
        assert post["status"] == "failed"
        assert post["error"]["tiktok_fail_reason"] == "duration_check_failed"

    async def test_html_page_instead_of_a_video(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        media_server.overrides["/share"] = (
            200,
            {"Content-Type": "text/html"},
            b"<!doctype html><html>Drive</html>",
        )
        publish_id = await publish(
            client, owner, video_url=media_server.url("share"), tiktok_account_id=account_id
        )
        await settle(worker, sessionmaker)
        post = await read(client, owner, publish_id)
        assert post["status"] == "failed"
        assert "web page" in post["error"]["message"]

    async def test_failure_refunds_points(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        media_server.overrides["/gone.mp4"] = (500, {"Content-Type": "text/plain"}, b"boom")
        before = await _balance(sessionmaker, owner)
        publish_id = await publish(
            client, owner, video_url=media_server.url("gone.mp4"), tiktok_account_id=account_id
        )
        await settle(worker, sessionmaker)
        post = await read(client, owner, publish_id)
        assert post["status"] == "failed"
        assert await _balance(sessionmaker, owner) == before
        async with sessionmaker() as session:
            refunds = await session.scalar(select(func.count()).where(PointEntry.kind == "refund"))
        assert refunds == 1


async def _balance(sessionmaker: async_sessionmaker[AsyncSession], owner: AccountWithKeys) -> int:
    async with sessionmaker() as session:
        return await points.balance(session, owner.account.id)
