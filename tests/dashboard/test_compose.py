"""Compose, as TikTok's content sharing guidelines ask, and what it sends to the same
publish services the API uses."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.dashboard.conftest import Browser, connect_creator, csrf_of
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_photo, make_video
from zakipost.dashboard.compose import BRANDED_NOT_PRIVATE, CHOOSE_PRIVACY, DISCLOSURE_INCOMPLETE
from zakipost.models import Connection, Post
from zakipost.worker import Worker

MUSIC_LINE = "By posting, you agree to TikTok's "
MUSIC_URL = "https://www.tiktok.com/legal/page/global/music-usage-confirmation/en"
BC_URL = "https://www.tiktok.com/legal/page/global/bc-policy/en"


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


async def compose(browser: Browser, account_id: str, **fields: Any) -> httpx.Response:
    page = await browser.client.get(f"/dashboard/compose?account={account_id}")
    assert page.status_code == 200, page.text
    data: dict[str, Any] = {
        "csrf_token": csrf_of(page),
        "tiktok_account_id": account_id,
        "kind": "video",
        "source": "url",
        "post_mode": "direct",
        **fields,
    }
    return await browser.client.post(
        "/dashboard/compose", data={k: v for k, v in data.items() if v is not None}
    )


def error_of(page: httpx.Response, field: str) -> str:
    match = re.search(rf'<p id="{field}-error" class="field-error">([^<]*)</p>', page.text)
    assert match, f"no error shown for {field}: {page.text}"
    return match.group(1)


@pytest.fixture
def video_url(media_server: MediaServer) -> str:
    (media_server.root / "clip.mp4").write_bytes(make_video(seconds=4))
    return media_server.url("clip.mp4")


class TestComposePage:
    async def test_lists_the_accounts_to_choose_from(
        self, browser: Browser, account_id: str
    ) -> None:
        page = await browser.client.get("/dashboard/compose")
        assert page.status_code == 200
        assert f'<option value="{account_id}"' in page.text
        assert 'id="compose"' not in page.text

    async def test_reads_fresh_creator_info_and_shows_the_nickname(
        self,
        browser: Browser,
        account_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        async with sessionmaker() as session:
            before = (await session.scalars(select(Connection))).one().creator_info_fetched_at
        page = await browser.client.get(f"/dashboard/compose?account={account_id}")
        async with sessionmaker() as session:
            after = (await session.scalars(select(Connection))).one().creator_info_fetched_at
        assert after is not None and (before is None or after > before)
        assert '<strong id="creator-nickname">Sandbox Creator</strong>' in page.text

    async def test_privacy_comes_from_the_creator_with_no_default(
        self, browser: Browser, account_id: str
    ) -> None:
        page = await browser.client.get(f"/dashboard/compose?account={account_id}")
        select_html = re.search(r'<select id="privacy_level".*?</select>', page.text, re.DOTALL)
        assert select_html
        options = re.findall(r'<option value="([^"]*)"([^>]*)>', select_html.group(0))
        # Exactly the creator's options, in TikTok's order.
        assert [value for value, _ in options] == [
            "",
            "PUBLIC_TO_EVERYONE",
            "MUTUAL_FOLLOW_FRIENDS",
            "SELF_ONLY",
        ]
        # Only the "choose" prompt is selected, and it cannot be chosen itself.
        assert "selected" in options[0][1] and "disabled" in options[0][1]
        assert all("selected" not in attributes for _, attributes in options[1:])
        # Publishing starts disabled, with the reason as its hover text.
        assert re.search(
            r'<button type="submit" id="publish"[^>]* disabled title="[^"]+"', page.text
        )

    async def test_interactions_and_disclosure_start_off(
        self, browser: Browser, account_id: str
    ) -> None:
        page = await browser.client.get(f"/dashboard/compose?account={account_id}")
        for name in ("allow_comment", "allow_duet", "allow_stitch", "commercial"):
            tag = re.search(rf'<input type="checkbox"[^>]* id="{name}"[^>]*>', page.text)
            assert tag and "checked" not in tag.group(0), name
        for label in (
            "Allow Comment",
            "Allow Duet",
            "Allow Stitch",
            "Your brand",
            "Branded content",
        ):
            assert f">{label}</label>" in page.text
        text = visible_text(page.text)
        assert "Your photo/video will be labeled as 'Promotional content'" in text
        assert "Your photo/video will be labeled as 'Paid partnership'" in text
        assert f"{MUSIC_LINE}Music Usage Confirmation" in text
        assert f"{MUSIC_LINE}Branded Content Policy and Music Usage Confirmation." in text
        assert f'href="{MUSIC_URL}"' in page.text and f'href="{BC_URL}"' in page.text
        assert DISCLOSURE_INCOMPLETE in page.text
        assert BRANDED_NOT_PRIVATE in page.text
        assert "processing may take a few minutes" in text.lower()

    async def test_interactions_the_creator_turned_off_are_greyed_out(
        self, browser: Browser, sandbox: Any
    ) -> None:
        # quiet.creator has comments off; private.creator has duets and stitches off.
        quiet = await connect_creator(browser.client, creator_index=2)
        page = await browser.client.get(f"/dashboard/compose?account={quiet}")
        assert re.search(
            r'<div class="check is-disabled"[^>]*>\s*<input type="checkbox" id="allow_comment" name="allow_comment" disabled',
            page.text,
        )
        assert "Turned off in this creator's TikTok settings." in page.text
        private = await connect_creator(browser.client, creator_index=1)
        page = await browser.client.get(f"/dashboard/compose?account={private}")
        for name in ("allow_duet", "allow_stitch"):
            assert re.search(rf'id="{name}" name="{name}" disabled', page.text), name
        assert not re.search(r'id="allow_comment" name="allow_comment" disabled', page.text)

    async def test_a_creator_who_cannot_post_now_is_stopped_there(
        self, browser: Browser, sandbox: Any
    ) -> None:
        sandbox.add_creator(username="capped.creator", nickname="Capped", posts_last_24h=15)
        capped = await connect_creator(browser.client, creator_index=5)
        page = await browser.client.get(f"/dashboard/compose?account={capped}")
        assert page.status_code == 200
        assert 'id="cannot-post"' in page.text
        assert "cannot post right now" in page.text
        assert "Try again later" in page.text
        assert 'id="compose"' not in page.text

    async def test_another_accounts_tiktok_account_is_not_found(
        self, browser: Browser, intruder: Browser
    ) -> None:
        theirs = await connect_creator(intruder.client)
        page = await browser.client.get(f"/dashboard/compose?account={theirs}")
        assert page.status_code == 404


class TestPublishRules:
    async def test_privacy_must_be_chosen(
        self, browser: Browser, account_id: str, video_url: str
    ) -> None:
        response = await compose(browser, account_id, video_url=video_url)
        assert response.status_code == 400
        assert error_of(response, "privacy_level") == CHOOSE_PRIVACY
        # What was typed stays.
        assert f'value="{video_url}"' in response.text

    async def test_disclosure_on_needs_a_choice(
        self, browser: Browser, account_id: str, video_url: str
    ) -> None:
        response = await compose(
            browser,
            account_id,
            video_url=video_url,
            privacy_level="PUBLIC_TO_EVERYONE",
            commercial="on",
        )
        assert response.status_code == 400
        assert error_of(response, "commercial") == DISCLOSURE_INCOMPLETE

    async def test_branded_content_is_never_private(
        self, browser: Browser, account_id: str, video_url: str
    ) -> None:
        response = await compose(
            browser,
            account_id,
            video_url=video_url,
            privacy_level="SELF_ONLY",
            commercial="on",
            brand_content_toggle="on",
        )
        assert response.status_code == 400
        assert "SELF_ONLY" in error_of(response, "commercial")

    async def test_a_missing_video_is_said_next_to_the_media(
        self, browser: Browser, account_id: str
    ) -> None:
        response = await compose(browser, account_id, privacy_level="SELF_ONLY")
        assert response.status_code == 400
        assert error_of(response, "media") == "Give the link to the video file."

    async def test_csrf_token_is_required(self, browser: Browser, account_id: str) -> None:
        response = await browser.client.post(
            "/dashboard/compose", data={"tiktok_account_id": account_id}
        )
        assert response.status_code == 403


class TestPublish:
    async def test_a_video_by_link_is_published(
        self,
        browser: Browser,
        account_id: str,
        video_url: str,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        response = await compose(
            browser,
            account_id,
            video_url=video_url,
            title="Hello #zakipost",
            privacy_level="PUBLIC_TO_EVERYONE",
            allow_comment="on",
            commercial="on",
            brand_organic_toggle="on",
        )
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        assert re.fullmatch(r"/dashboard/posts/v_pub_\w{16}\?new=1", location)
        async with sessionmaker() as session:
            post = (await session.scalars(select(Post))).one()
        assert post.title == "Hello #zakipost"
        assert post.privacy_level == "PUBLIC_TO_EVERYONE"
        assert (post.disable_comment, post.disable_duet, post.disable_stitch) == (False, True, True)
        assert (post.brand_organic_toggle, post.brand_content_toggle) == (True, False)
        page = await browser.client.get(location)
        assert "Processing may take a few minutes" in page.text
        await settle(worker, sessionmaker)
        page = await browser.client.get(location.split("?")[0])
        assert 'id="status">published<' in page.text
        assert "https://www.tiktok.com/@sandbox.creator/video/" in page.text

    async def test_an_uploaded_video_is_published(
        self,
        browser: Browser,
        account_id: str,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        page = await browser.client.get(f"/dashboard/compose?account={account_id}")
        token = re.search(r'data-csrf="([^"]+)"', page.text)
        assert token
        video = make_video(seconds=4)
        refused = await browser.client.post(
            "/dashboard/media?filename=clip.mp4",
            content=video,
            headers={"Content-Type": "video/mp4"},
        )
        assert refused.status_code == 403
        uploaded = await browser.client.post(
            "/dashboard/media?filename=clip.mp4",
            content=video,
            headers={"Content-Type": "video/mp4", "X-CSRF-Token": token.group(1)},
        )
        assert uploaded.status_code == 200, uploaded.text
        media = uploaded.json()
        assert media["kind"] == "video" and media["duration_sec"] == pytest.approx(4, abs=0.1)
        response = await compose(
            browser,
            account_id,
            source="upload",
            media_id=media["media_id"],
            privacy_level="SELF_ONLY",
        )
        assert response.status_code == 303, response.text
        await settle(worker, sessionmaker)
        async with sessionmaker() as session:
            post = (await session.scalars(select(Post))).one()
        assert post.status.value == "published", post.error_message

    async def test_a_refused_upload_says_why(self, browser: Browser, account_id: str) -> None:
        page = await browser.client.get(f"/dashboard/compose?account={account_id}")
        token = re.search(r'data-csrf="([^"]+)"', page.text)
        assert token
        response = await browser.client.post(
            "/dashboard/media?filename=notes.txt",
            content=b"not a video at all",
            headers={"Content-Type": "video/mp4", "X-CSRF-Token": token.group(1)},
        )
        assert response.status_code in (415, 422)
        assert response.json()["message"]

    async def test_photos_by_link_are_published(
        self,
        browser: Browser,
        account_id: str,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        for name in ("1.jpg", "2.jpg"):
            (media_server.root / name).write_bytes(make_photo())
        response = await compose(
            browser,
            account_id,
            kind="photo",
            photo_urls=f"{media_server.url('1.jpg')}\n{media_server.url('2.jpg')}\n",
            photo_cover_index="1",
            title="Weekend",
            description="Two days by the sea #travel",
            privacy_level="PUBLIC_TO_EVERYONE",
            allow_comment="on",
            allow_duet="on",
        )
        assert response.status_code == 303, response.text
        assert "/dashboard/posts/p_pub_" in response.headers["location"]
        await settle(worker, sessionmaker)
        async with sessionmaker() as session:
            post = (await session.scalars(select(Post))).one()
        assert post.kind.value == "photo"
        assert post.request.photo_cover_index == 1
        assert post.description == "Two days by the sea #travel"
        assert post.status.value == "published", post.error_message

    async def test_a_video_draft_goes_to_the_inbox(
        self,
        browser: Browser,
        account_id: str,
        video_url: str,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        # A draft sends only the video: the other choices are the creator's, in TikTok.
        response = await compose(
            browser,
            account_id,
            video_url=video_url,
            post_mode="draft",
            title="ignored",
            privacy_level="PUBLIC_TO_EVERYONE",
        )
        assert response.status_code == 303, response.text
        await settle(worker, sessionmaker)
        async with sessionmaker() as session:
            post = (await session.scalars(select(Post))).one()
        assert post.post_mode.value == "draft"
        assert post.title is None
        page = await browser.client.get(response.headers["location"])
        assert "in the creator's TikTok inbox" in page.text or "in inbox" in page.text

    async def test_scheduled_for_later(
        self,
        browser: Browser,
        account_id: str,
        video_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        response = await compose(
            browser,
            account_id,
            video_url=video_url,
            privacy_level="SELF_ONLY",
            schedule="on",
            scheduled_at="2099-01-01T10:00",
            tz_offset_minutes="-60",
        )
        # More than a year ahead: refused next to the schedule.
        assert response.status_code == 400
        assert "more than a year ahead" in error_of(response, "schedule")
        # The browser's local time, in a zone one hour ahead of UTC.
        local = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(
            second=0, microsecond=0, tzinfo=None
        )
        response = await compose(
            browser,
            account_id,
            video_url=video_url,
            privacy_level="SELF_ONLY",
            schedule="on",
            scheduled_at=local.strftime("%Y-%m-%dT%H:%M"),
            tz_offset_minutes="-60",
        )
        assert response.status_code == 303, response.text
        async with sessionmaker() as session:
            post = (await session.scalars(select(Post))).one()
        assert post.status.value == "scheduled"
        expected = local.replace(tzinfo=dt.UTC) - dt.timedelta(hours=1)
        assert post.scheduled_at == expected

    async def test_not_enough_points_is_said_plainly(
        self,
        browser: Browser,
        account_id: str,
        video_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        from zakipost.billing import points

        async with sessionmaker() as session, session.begin():
            balance = await points.balance(session, browser.owner.account.id)
            await points.debit(
                session, browser.owner.account.id, balance, reason="test", reference="test"
            )
        response = await compose(
            browser, account_id, video_url=video_url, privacy_level="SELF_ONLY"
        )
        assert response.status_code == 400
        assert "Insufficient points" in response.text
