"""The public link after publishing (publishing.link) against the sandbox: TikTok gives
the id after moderation, the job asks on a widening schedule, and stops when it has it, when
the post is private, or at the bound."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.e2e.test_publish_flow import publish, put, read
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from zakipost import events
from zakipost.models import Job, JobStatus, MediaKind, Post
from zakipost.post.schemas import post_url
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.link import CHECKS, next_check
from zakipost.publishing.machine import LINK_TASK
from zakipost.worker import Worker

BOTH = ("publishing.run", LINK_TASK)
# Long enough for the whole schedule; settle moves the clocks instead of waiting.
TWO_DAYS = 49 * 3600.0


@pytest.fixture
async def account_id(client: httpx.AsyncClient, owner: AccountWithKeys) -> str:
    return (await connect_via_api(client, owner))["tiktok_account_id"]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[events.DomainEvent]:
    """Every domain event recorded, in order."""
    seen: list[events.DomainEvent] = []
    original = events.record

    def spy(session: Any, event: events.DomainEvent) -> None:
        seen.append(event)
        original(session, event)

    monkeypatch.setattr(events, "record", spy)
    return seen


@pytest.fixture
def status_fetches(deps: PipelineDeps, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The publish ids of every status fetch ZakiPost sends TikTok."""
    sent: list[str] = []
    original: Callable[[str, str], Awaitable[Any]] = deps.tiktok.fetch_status

    async def counting(token: str, publish_id: str) -> Any:
        sent.append(publish_id)
        return await original(token, publish_id)

    monkeypatch.setattr(deps.tiktok, "fetch_status", counting)
    return sent


def moderation_after(sandbox: Any, seconds: float) -> None:
    # Processing takes a second; the public id comes `seconds` after PUBLISH_COMPLETE.
    sandbox.configure(
        progression="time", processing_delay_seconds=1.0, moderation_delay_seconds=seconds
    )


async def _publish(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    account_id: str,
    media_server: MediaServer,
    privacy: str,
) -> str:
    return await publish(
        client,
        owner,
        video_url=put(media_server, "clip.mp4", make_video(seconds=3)),
        tiktok_account_id=account_id,
        privacy_level=privacy,
    )


async def _link_jobs(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Job]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Job).where(Job.kind == LINK_TASK))).all())


class TestLinkAfterModeration:
    async def test_a_public_post_gets_its_link_90_s_after_publish_complete(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        sandbox: Any,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        recorded: list[events.DomainEvent],
        status_fetches: list[str],
    ) -> None:
        moderation_after(sandbox, 90)
        publish_id = await _publish(client, owner, account_id, media_server, "PUBLIC_TO_EVERYONE")

        await settle(worker, sessionmaker)
        post = await read(client, owner, publish_id)
        assert post["status"] == "published"
        assert post["post_url"] is None  # moderation is not over
        assert post["tiktok_post_ids"] == []
        polls = len(status_fetches)

        await settle(worker, sessionmaker, kinds=BOTH, max_seconds=TWO_DAYS)

        post = await read(client, owner, publish_id)
        [post_id] = post["tiktok_post_ids"]
        assert isinstance(post_id, str) and post_id.isdigit()
        assert post["post_url"] == f"https://www.tiktok.com/@sandbox.creator/video/{post_id}"
        # Asked at 1 minute (not moderated yet), then at 3 minutes: two fetches, then done.
        assert len(status_fetches) - polls == 2
        assert [job.status for job in await _link_jobs(sessionmaker)] == [JobStatus.succeeded]
        links = [e for e in recorded if e.type == "post.link_available"]
        async with sessionmaker() as session:
            row = await session.scalar(select(Post).where(Post.publish_id == publish_id))
        assert row is not None
        assert [(e.subject_kind, e.subject_id) for e in links] == [("post", row.id)]
        assert "TikTok gave the post's public link." in [e["message"] for e in post["timeline"]]
        assert post["status"] == "published"

    async def test_a_link_given_at_once_needs_no_follow_up(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        recorded: list[events.DomainEvent],
    ) -> None:
        # The "immediate" sandbox moderates at once: the id comes with PUBLISH_COMPLETE.
        publish_id = await _publish(client, owner, account_id, media_server, "PUBLIC_TO_EVERYONE")
        await settle(worker, sessionmaker, kinds=BOTH)
        post = await read(client, owner, publish_id)
        assert post["post_url"] and post["post_url"].endswith(post["tiktok_post_ids"][0])
        assert await _link_jobs(sessionmaker) == []
        assert [e.type for e in recorded].count("post.link_available") == 1

    async def test_a_self_only_post_is_not_asked_again(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        sandbox: Any,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        status_fetches: list[str],
    ) -> None:
        moderation_after(sandbox, 90)
        publish_id = await _publish(client, owner, account_id, media_server, "SELF_ONLY")
        await settle(worker, sessionmaker)
        polls = len(status_fetches)
        await settle(worker, sessionmaker, kinds=BOTH, max_seconds=TWO_DAYS)
        assert len(status_fetches) == polls
        assert await _link_jobs(sessionmaker) == []
        post = await read(client, owner, publish_id)
        assert (post["status"], post["post_url"]) == ("published", None)

    async def test_it_stops_at_the_bound(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        sandbox: Any,
        deps: PipelineDeps,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        status_fetches: list[str],
    ) -> None:
        deps.settings.publishing.link_watch_hours = 1.0
        moderation_after(sandbox, 3 * 3600)  # TikTok takes hours this time
        publish_id = await _publish(client, owner, account_id, media_server, "PUBLIC_TO_EVERYONE")
        await settle(worker, sessionmaker)
        polls = len(status_fetches)
        await settle(worker, sessionmaker, kinds=BOTH, max_seconds=TWO_DAYS)
        # 1, 3, 8, 18, 48 minutes, then the bound at 60.
        assert len(status_fetches) - polls == 6
        post = await read(client, owner, publish_id)
        assert post["post_url"] is None
        assert any("stopped asking" in e["message"] for e in post["timeline"])


class TestSchedule:
    def test_widens_and_ends_at_the_bound(self) -> None:
        start = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        bound = start + dt.timedelta(hours=48)
        times, now = [], start
        while now < bound:
            now = next_check(start, now, bound)
            times.append(now)
        gaps = [b - a for a, b in zip([start, *times], times, strict=False)]
        assert gaps[:4] == [dt.timedelta(minutes=m) for m in (1, 2, 5, 10)]
        assert gaps == sorted(gaps[:-1]) + gaps[-1:]  # widening, the last cut at the bound
        assert times[-1] == bound
        assert len(times) <= len(CHECKS) + 1


class TestPostUrl:
    @pytest.mark.parametrize(
        ("kind", "path"), [(MediaKind.video, "video"), (MediaKind.photo, "photo")]
    )
    def test_tiktoks_url_form_by_kind(self, kind: MediaKind, path: str) -> None:
        post = Post(kind=kind, tiktok_post_ids=["7602997517160123666", "7602997517160123667"])
        assert post_url(post, "some.creator") == (
            f"https://www.tiktok.com/@some.creator/{path}/7602997517160123666"
        )

    def test_none_without_an_id_or_a_username(self) -> None:
        assert post_url(Post(kind=MediaKind.video, tiktok_post_ids=[]), "some.creator") is None
        assert post_url(Post(kind=MediaKind.video, tiktok_post_ids=["1"]), None) is None
