"""Posts: the list and its filters, a post's page and its live part, cancel, reschedule,
failures with what to do; and the points page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.dashboard.conftest import Browser, connect_creator, post_form
from tests.dashboard.test_compose import compose
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from zakipost.models import Post
from zakipost.worker import Worker


@pytest.fixture
def video_url(media_server: MediaServer) -> str:
    (media_server.root / "clip.mp4").write_bytes(make_video(seconds=4))
    return media_server.url("clip.mp4")


async def publish(browser: Browser, account_id: str, video_url: str, **fields: Any) -> str:
    response = await compose(
        browser, account_id, video_url=video_url, privacy_level="SELF_ONLY", **fields
    )
    assert response.status_code == 303, response.text
    match = re.search(r"/dashboard/posts/(\w+)", response.headers["location"])
    assert match
    return match.group(1)


def in_two_days() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")


class TestList:
    async def test_filters_by_account_and_status(
        self,
        browser: Browser,
        account_id: str,
        video_url: str,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        other = await connect_creator(browser.client, creator_index=3)
        published = await publish(browser, account_id, video_url, title="first")
        await settle(worker, sessionmaker)
        scheduled = await publish(
            browser, other, video_url, title="later", schedule="on", scheduled_at=in_two_days()
        )
        everything = await browser.client.get("/dashboard/posts")
        assert published in everything.text and scheduled in everything.text
        mine = await browser.client.get(f"/dashboard/posts?account={account_id}")
        assert published in mine.text and scheduled not in mine.text
        waiting = await browser.client.get("/dashboard/posts?status=scheduled")
        assert scheduled in waiting.text and published not in waiting.text
        nothing = await browser.client.get(f"/dashboard/posts?account={other}&status=published")
        assert "No posts match these filters" in nothing.text
        # The accounts page counts what reached TikTok in the last 24 hours.
        accounts = await browser.client.get("/dashboard/accounts")
        assert "<dt>Posts in the last 24 h</dt><dd>1 of 15</dd>" in accounts.text
        assert "<dt>Drafts waiting in the TikTok inbox</dt><dd>0 of 5</dd>" in accounts.text

    async def test_pages_through_older_posts(
        self,
        browser: Browser,
        account_id: str,
        video_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from zakipost.dashboard.routes import posts

        monkeypatch.setattr(posts, "PAGE_SIZE", 2)
        ids = [await publish(browser, account_id, video_url) for _ in range(3)]
        first = await browser.client.get("/dashboard/posts")
        more = re.search(r'href="(/dashboard/posts\?[^"]*cursor=[^"]+)"', first.text)
        assert more
        second = await browser.client.get(more.group(1).replace("&amp;", "&"))
        shown = [i for i in ids if i in first.text], [i for i in ids if i in second.text]
        assert sorted(shown[0] + shown[1]) == sorted(ids)
        assert not set(shown[0]) & set(shown[1])


class TestPostPage:
    async def test_follows_the_post_until_it_is_published(
        self,
        browser: Browser,
        account_id: str,
        video_url: str,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        publish_id = await publish(browser, account_id, video_url)
        page = await browser.client.get(f"/dashboard/posts/{publish_id}?new=1")
        assert "Processing may take a few minutes" in page.text
        assert 'data-live="true"' in page.text
        assert 'data-status-url="/dashboard/posts/' in page.text
        status = await browser.client.get(f"/dashboard/posts/{publish_id}/status")
        assert status.headers["x-post-live"] == "1"
        assert "<html" not in status.text
        await settle(worker, sessionmaker)
        status = await browser.client.get(f"/dashboard/posts/{publish_id}/status")
        assert status.headers["x-post-live"] == "0"
        assert 'id="status">published<' in status.text
        assert "Processing may take a few minutes" not in status.text
        # Only-me posts get no public link from TikTok.
        assert (
            "This post is not public (visible to: Only me), so TikTok gives it no public link"
            in (status.text)
        )
        assert "Published on TikTok." in status.text

    async def test_a_failure_says_what_happened_and_what_to_do(
        self,
        browser: Browser,
        account_id: str,
        video_url: str,
        sandbox: Any,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        sandbox.faults.fail_next("frame_rate_check_failed")
        publish_id = await publish(browser, account_id, video_url)
        await settle(worker, sessionmaker)
        page = await browser.client.get(f"/dashboard/posts/{publish_id}")
        assert 'id="status">failed<' in page.text
        assert 'id="post-error"' in page.text
        assert "frame_rate_check_failed" in page.text
        assert "What to do:" in page.text
        assert f'href="/dashboard/compose?account={account_id}"' in page.text

    async def test_another_accounts_post_is_not_found(
        self, browser: Browser, intruder: Browser, account_id: str, video_url: str
    ) -> None:
        publish_id = await publish(browser, account_id, video_url)
        for path in (
            f"/dashboard/posts/{publish_id}",
            f"/dashboard/posts/{publish_id}/status",
            f"/dashboard/posts/{publish_id}/cancel",
        ):
            response = await intruder.client.get(path)
            assert response.status_code == 404, path
            assert publish_id in response.text  # the message names what was asked for
            assert "SELF_ONLY" not in response.text


class TestCancelAndReschedule:
    async def test_a_scheduled_post_is_cancelled_and_refunded(
        self,
        browser: Browser,
        account_id: str,
        video_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        publish_id = await publish(
            browser, account_id, video_url, schedule="on", scheduled_at=in_two_days()
        )
        page = await browser.client.get(f"/dashboard/posts/{publish_id}")
        assert "Change the plan" in page.text and "Cancel this post…" in page.text
        path = f"/dashboard/posts/{publish_id}/cancel"
        confirm = await browser.client.get(path)
        assert "Cancel the post" in confirm.text
        response = await post_form(browser.client, path, path)
        assert response.status_code == 303
        page = await browser.client.get(response.headers["location"])
        assert "Post cancelled; its points were refunded." in page.text
        assert 'id="status">cancelled<' in page.text
        assert "Change the plan" not in page.text
        points = await browser.client.get("/dashboard/points")
        assert "+400" in points.text and "-400" in points.text

    async def test_a_scheduled_post_is_moved(
        self,
        browser: Browser,
        account_id: str,
        video_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        publish_id = await publish(
            browser, account_id, video_url, schedule="on", scheduled_at=in_two_days()
        )
        page_path = f"/dashboard/posts/{publish_id}"
        action = f"{page_path}/reschedule"
        past = await post_form(
            browser.client,
            page_path,
            action,
            {"scheduled_at": "2020-01-01T10:00", "tz_offset_minutes": "0"},
        )
        assert past.status_code == 400
        assert 'id="scheduled_at-error"' in past.text and "in the past" in past.text
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(second=0, microsecond=0)
        moved = await post_form(
            browser.client,
            page_path,
            action,
            {"scheduled_at": later.strftime("%Y-%m-%dT%H:%M"), "tz_offset_minutes": "0"},
        )
        assert moved.status_code == 303, moved.text
        async with sessionmaker() as session:
            post = (await session.scalars(select(Post))).one()
        assert post.scheduled_at == later
        page = await browser.client.get(moved.headers["location"])
        assert "Post rescheduled." in page.text

    async def test_a_published_post_can_no_longer_be_cancelled(
        self,
        browser: Browser,
        account_id: str,
        video_url: str,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        publish_id = await publish(browser, account_id, video_url)
        page = await browser.client.get(f"/dashboard/posts/{publish_id}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        await settle(worker, sessionmaker)
        response = await browser.client.post(
            f"/dashboard/posts/{publish_id}/cancel", data={"csrf_token": token.group(1)}
        )
        assert response.status_code == 409
        assert "only scheduled, queued or deferred posts" in response.text


class TestPoints:
    async def test_balance_plan_and_history(
        self, browser: Browser, account_id: str, video_url: str
    ) -> None:
        publish_id = await publish(browser, account_id, video_url)
        page = await browser.client.get("/dashboard/points")
        assert page.status_code == 200
        assert '<strong id="balance">9600</strong>' in page.text
        assert "pro — includes API access" in page.text
        assert "never" in page.text
        assert f'<a href="/dashboard/posts/{publish_id}">' in page.text
        assert "Initial points" in page.text

    async def test_an_expired_plan_is_flagged(
        self, browser: Browser, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        from sqlalchemy import update

        from zakipost.models import Account

        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Account).values(plan_expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
            )
        page = await browser.client.get("/dashboard/points")
        assert "2020-01-01 00:00 UTC" in page.text
        assert "expired: renew it to use the API" in page.text
