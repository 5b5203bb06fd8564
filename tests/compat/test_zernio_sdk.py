"""Zernio's official SDK (``late-sdk``), unmodified but for ``base_url``, against ZakiPost
served on loopback and the sandbox: connect, accounts, a video and a photo carousel
published, a post scheduled and cancelled, and refusals raised as the SDK's own errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from late import (
    Zernio,
    ZernioAPIError,
    ZernioAuthenticationError,
    ZernioNotFoundError,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.compat.conftest import call, finish_consent
from tests.connection.conftest import CALLBACK_TARGET
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_photo, make_video
from zakipost.worker import Worker

CONSENT = {"content_preview_confirmed": True, "express_consent_given": True}


@pytest.fixture
def zernio(served: str, named_key: str) -> Zernio:
    return Zernio(api_key=named_key, base_url=f"{served}/compat/zernio/api", max_retries=1)


@pytest.fixture
async def account_id(zernio: Zernio, client: httpx.AsyncClient) -> str:
    """Connected through the SDK's connect flow: ZakiPost's TikTok consent link."""
    profiles = await call(zernio.profiles.list)
    profile_id = profiles.profiles[0].field_id
    started = await call(
        zernio.connect.get_connect_url, "tiktok", profile_id, redirect_url=CALLBACK_TARGET
    )
    return await finish_consent(client, started["authUrl"])


class TestConnectAndAccounts:
    async def test_the_connected_account_is_listed(self, zernio: Zernio, account_id: str) -> None:
        listed = await call(zernio.accounts.list)
        [account] = listed.accounts
        assert account.field_id == account_id
        assert account.platform.value == "tiktok"
        assert account.isActive is True
        assert listed.hasAnalyticsAccess is False


class TestPublish:
    async def test_uploaded_video_published(
        self,
        zernio: Zernio,
        account_id: str,
        tmp_path: Path,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        sandbox,
    ) -> None:
        video = tmp_path / "clip.mp4"
        video.write_bytes(make_video(seconds=4))
        uploaded = await call(zernio.media.upload, video)
        [file] = uploaded.files
        created = await call(
            zernio.posts.create,
            content="Sunset #zakipost",
            media_items=[{"type": "video", "url": str(file.url)}],
            platforms=[{"platform": "tiktok", "accountId": account_id}],
            tiktok_settings={
                "privacy_level": "PUBLIC_TO_EVERYONE",
                "allow_comment": True,
                "allow_duet": False,
                "allow_stitch": True,
                "video_made_with_ai": True,
                **CONSENT,
            },
            publish_now=True,
        )
        post_id = created.post.field_id
        assert created.post.status.value == "publishing"
        await settle(worker, sessionmaker)

        post = (await call(zernio.posts.get, post_id)).post
        assert post.status.value == "published"
        [target] = post.platforms
        assert target.status == "published" and target.accountId == account_id
        [received] = sandbox.posts()
        assert received["title"] == "Sunset #zakipost"
        assert received["privacy_level"] == "PUBLIC_TO_EVERYONE"
        assert received["disable_duet"] is True and received["disable_comment"] is False
        assert received["is_aigc"] is True
        listed = await call(zernio.posts.list, status="published")
        assert [p.field_id for p in listed.posts or []] == [post_id]
        assert listed.pagination is not None and listed.pagination.total == 1

    async def test_photo_carousel_with_settings_in_platform_data(
        self,
        zernio: Zernio,
        account_id: str,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        for name in ("1.jpg", "2.jpg"):
            (media_server.root / name).write_bytes(make_photo())
        created = await call(
            zernio.posts.create,
            content="Weekend",
            media_items=[
                {"type": "image", "url": media_server.url("1.jpg")},
                {"type": "image", "url": media_server.url("2.jpg")},
            ],
            platforms=[
                {
                    "platform": "tiktok",
                    "accountId": account_id,
                    "platformSpecificData": {
                        "privacyLevel": "SELF_ONLY",
                        "description": "Two days by the sea #travel",
                        "photoCoverIndex": 1,
                        "contentPreviewConfirmed": True,
                        "expressConsentGiven": True,
                    },
                }
            ],
            publish_now=True,
        )
        await settle(worker, sessionmaker)
        post = (await call(zernio.posts.get, created.post.field_id)).post
        assert post.status.value == "published"
        assert [str(m.url) for m in post.mediaItems or []] == [
            media_server.url("1.jpg"),
            media_server.url("2.jpg"),
        ]

    async def test_scheduled_then_cancelled(
        self, zernio: Zernio, account_id: str, media_server: MediaServer
    ) -> None:
        (media_server.root / "later.mp4").write_bytes(make_video(seconds=4))
        when = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        created = await call(
            zernio.posts.create,
            content="Tomorrow",
            media_items=[{"url": media_server.url("later.mp4")}],
            platforms=[{"platform": "tiktok", "accountId": account_id}],
            tiktok_settings={"privacyLevel": "SELF_ONLY", **CONSENT},
            scheduled_for=when,
        )
        post_id = created.post.field_id
        assert created.post.status.value == "scheduled"
        moved = await call(zernio.posts.update, post_id, scheduled_for=when + dt.timedelta(hours=2))
        assert moved.post is not None and moved.post.scheduledFor is not None
        assert moved.post.scheduledFor == when + dt.timedelta(hours=2)
        with pytest.raises(ZernioAPIError) as raised:
            await call(zernio.posts.update, post_id, content="Edited")
        assert raised.value.details["code"] == "not_supported"
        await call(zernio.posts.delete, post_id)
        post = (await call(zernio.posts.get, post_id)).post
        assert post.status.value == "cancelled"


class TestRefusals:
    async def test_a_bad_key_is_the_sdks_authentication_error(self, served: str) -> None:
        bad = Zernio(api_key="zp_sk_not-a-key", base_url=f"{served}/compat/zernio/api")
        with pytest.raises(ZernioAuthenticationError):
            await call(bad.accounts.list)

    async def test_an_unknown_account_is_not_found(
        self, zernio: Zernio, media_server: MediaServer
    ) -> None:
        with pytest.raises(ZernioNotFoundError):
            await call(
                zernio.posts.create,
                content="x",
                media_items=[{"type": "video", "url": media_server.url("a.mp4")}],
                platforms=[
                    {"platform": "tiktok", "accountId": "00000000-0000-4000-8000-000000000000"}
                ],
                tiktok_settings=CONSENT,
                publish_now=True,
            )

    async def test_another_platform_is_refused(self, zernio: Zernio, account_id: str) -> None:
        with pytest.raises(ZernioAPIError) as raised:
            await call(
                zernio.posts.create,
                content="x",
                media_items=[{"type": "image", "url": "https://cdn.example.com/a.jpg"}],
                platforms=[{"platform": "instagram", "accountId": account_id}],
                publish_now=True,
            )
        assert raised.value.status_code == 400
        assert raised.value.details["code"] == "platform_not_supported"
        assert raised.value.details["param"] == "platforms[0].platform"

    async def test_missing_consent_is_refused_naming_the_flag(
        self, zernio: Zernio, account_id: str
    ) -> None:
        with pytest.raises(ZernioAPIError) as raised:
            await call(
                zernio.posts.create,
                content="x",
                media_items=[{"type": "video", "url": "https://cdn.example.com/a.mp4"}],
                platforms=[{"platform": "tiktok", "accountId": account_id}],
                tiktok_settings={"content_preview_confirmed": True},
                publish_now=True,
            )
        assert raised.value.status_code == 400
        assert raised.value.details["param"] == "tiktokSettings.expressConsentGiven"
