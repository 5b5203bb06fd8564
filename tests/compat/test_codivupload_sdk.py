"""CodivUpload's official SDK (``codivupload``), unmodified but for ``base_url``, against
ZakiPost served on loopback and the sandbox: a TikTok account connected through ZakiPost
appears as a profile; a video and a photo carousel published, a post scheduled and
deleted, and refusals raised as ``CodivUploadError``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from codivupload import CodivUpload, CodivUploadError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.compat.conftest import call
from tests.connection.conftest import connect_via_api
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_photo, make_video
from zakipost.worker import Worker


@pytest.fixture
def codiv(served: str, named_key: str) -> Iterator[CodivUpload]:
    with CodivUpload(named_key, base_url=f"{served}/compat/codivupload/v1") as sdk:
        yield sdk


@pytest.fixture
async def profile_name(
    codiv: CodivUpload, client: httpx.AsyncClient, owner: AccountWithKeys
) -> str:
    """Connected through ZakiPost (CodivUpload's SDK has no connect call)."""
    connected = await connect_via_api(client, owner)
    [profile] = (await call(codiv.profiles.list))["profiles"]
    assert profile["id"] == connected["tiktok_account_id"]
    return str(profile["profile_name"])


class TestProfiles:
    async def test_the_connected_account_is_a_profile(
        self, codiv: CodivUpload, profile_name: str
    ) -> None:
        [profile] = (await call(codiv.profiles.list))["profiles"]
        assert profile["username"] == profile_name
        assert profile["platforms"] == ["tiktok"]


class TestPublish:
    async def test_video_published(
        self,
        codiv: CodivUpload,
        profile_name: str,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        sandbox,
    ) -> None:
        (media_server.root / "clip.mp4").write_bytes(make_video(seconds=4))
        created = await call(
            codiv.posts.create,
            platforms=["tiktok"],
            post_type="video",
            profile_name=profile_name,
            media_urls=[media_server.url("clip.mp4")],
            title="For the dashboard",
            description="How I automate my workflow #productivity",
            tiktok_privacy_level="PUBLIC_TO_EVERYONE",
            tiktok_disable_comment=False,
            tiktok_disable_duet=True,
            tiktok_disable_stitch=False,
            tiktok_is_aigc=True,
        )
        assert created["id"] == created["post_id"]
        assert created["status"] == "publishing"
        await settle(worker, sessionmaker)

        post = await call(codiv.posts.get, created["post_id"])
        assert post["status"] == "completed"
        assert post["destinations"][0]["status"] == "completed"
        [received] = sandbox.posts()
        assert received["title"] == "How I automate my workflow #productivity"
        assert received["disable_duet"] is True and received["is_aigc"] is True
        listed = await call(codiv.posts.list, status="completed")
        assert [p["id"] for p in listed["posts"]] == [created["id"]]
        assert listed["total"] == 1

    async def test_photo_carousel_published(
        self,
        codiv: CodivUpload,
        profile_name: str,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        sandbox,
    ) -> None:
        for name in ("1.jpg", "2.jpg", "3.jpg"):
            (media_server.root / name).write_bytes(make_photo())
        created = await call(
            codiv.posts.create,
            platforms=["tiktok"],
            profile_name=f"@{profile_name}",
            media_urls=[media_server.url(n) for n in ("1.jpg", "2.jpg", "3.jpg")],
            title="Weekend",
            description="Three days by the sea #travel",
            tiktok_privacy_level="SELF_ONLY",
            tiktok_photo_cover_index=2,
        )
        assert created["post_type"] == "photo"
        await settle(worker, sessionmaker)
        post = await call(codiv.posts.get, created["id"])
        assert post["status"] == "completed", post
        [received] = sandbox.posts()
        assert received["title"] == "Weekend"
        assert received["description"] == "Three days by the sea #travel"

    async def test_scheduled_then_deleted(
        self, codiv: CodivUpload, profile_name: str, media_server: MediaServer
    ) -> None:
        (media_server.root / "later.mp4").write_bytes(make_video(seconds=4))
        when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        created = await call(
            codiv.posts.schedule,
            platforms=["tiktok"],
            profile_name=profile_name,
            media_urls=[media_server.url("later.mp4")],
            description="Tomorrow",
            scheduled_date=when,
        )
        assert created["status"] == "scheduled"
        assert created["scheduled_date"] == when
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        moved = await call(codiv.posts.update, created["id"], scheduled_date=later)
        assert moved["scheduled_date"] == later and moved["status"] == "scheduled"
        deleted = await call(codiv.posts.delete, created["post_id"])
        assert deleted["status"] == "cancelled"
        assert (await call(codiv.posts.get, created["id"]))["status"] == "cancelled"

    async def test_draft_mode_goes_to_the_inbox(
        self,
        codiv: CodivUpload,
        profile_name: str,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        (media_server.root / "draft.mp4").write_bytes(make_video(seconds=4))
        created = await call(
            codiv.posts.create,
            platforms=["tiktok"],
            profile_name=profile_name,
            media_urls=[media_server.url("draft.mp4")],
            description="Client approval",
            tiktok_post_mode="DRAFT",
        )
        await settle(worker, sessionmaker)
        post = await call(codiv.posts.get, created["id"])
        assert post["tiktok_post_mode"] == "DRAFT"
        assert post["status"] == "completed"
        assert post["destinations"][0]["status"] == "in_inbox"


class TestRefusals:
    async def test_a_bad_key(self, served: str) -> None:
        bad = CodivUpload("zp_sk_wrong", base_url=f"{served}/compat/codivupload/v1")
        with bad, pytest.raises(CodivUploadError) as raised:
            await call(bad.posts.list)
        assert raised.value.status == 401
        assert raised.value.code == "invalid_credentials"

    async def test_an_unknown_profile(self, codiv: CodivUpload, profile_name: str) -> None:
        with pytest.raises(CodivUploadError) as raised:
            await call(
                codiv.posts.create,
                platforms=["tiktok"],
                profile_name="nobody_here",
                media_urls=["https://cdn.example.com/a.mp4"],
            )
        assert raised.value.status == 404
        assert raised.value.code == "profile_not_found"

    async def test_another_platform(self, codiv: CodivUpload, profile_name: str) -> None:
        with pytest.raises(CodivUploadError) as raised:
            await call(
                codiv.posts.create,
                platforms=["tiktok", "instagram"],
                profile_name=profile_name,
                media_urls=["https://cdn.example.com/a.mp4"],
            )
        assert raised.value.status == 400
        assert raised.value.code == "platform_not_supported"

    async def test_an_unknown_post(self, codiv: CodivUpload) -> None:
        with pytest.raises(CodivUploadError) as raised:
            await call(codiv.posts.get, "v_pub_0000000000000000")
        assert raised.value.status == 404
