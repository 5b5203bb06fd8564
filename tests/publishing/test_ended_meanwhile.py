"""A post that TikTok's webhook ends while a step of its job runs: the step's own write
finds the post ended, and the job ends with it (no error, no retry, nothing written twice)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.e2e.test_publish_flow import publish, put, read
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.media_server import MediaServer
from tests.sandbox.media import make_video
from zakipost.models import Job, JobStatus, MediaKind, Post
from zakipost.publishing import machine, steps
from zakipost.publishing.run import PostRun
from zakipost.publishing.states import PostStatus, PostStep
from zakipost.worker import Worker


async def test_a_post_published_by_a_webhook_mid_step_ends_its_job(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    media_server: MediaServer,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    fetch = steps.STEPS[PostStep.fetching][MediaKind.video]

    async def webhook_then_fetch(run: PostRun, post: Post) -> Any:
        # What the TikTok webhook endpoint does, in its own transaction, while the step runs.
        async with sessionmaker() as session, session.begin():
            row = await session.get(Post, post.id, with_for_update=True)
            assert row is not None
            finish = machine.Finish(PostStatus.published, "Published on TikTok (TikTok's webhook).")
            await machine.apply_finish(session, row, finish, now=run.now())
        return await fetch(run, post)

    monkeypatch.setitem(steps.STEPS[PostStep.fetching], MediaKind.video, webhook_then_fetch)
    publish_id = await publish(
        client,
        owner,
        video_url=put(media_server, "clip.mp4", make_video(seconds=3)),
        tiktok_account_id=account_id,
        privacy_level="SELF_ONLY",
    )
    await worker.run_until_idle()

    async with sessionmaker() as session:
        job = await session.scalar(select(Job).where(Job.kind == "publishing.run"))
    assert job is not None
    assert (job.status, job.attempts, job.last_error) == (JobStatus.succeeded, 1, None)
    shown = await read(client, owner, publish_id)
    assert shown["status"] == "published"
    messages = [e["message"] for e in shown["timeline"]]
    assert messages.count("Published on TikTok (TikTok's webhook).") == 1
    assert shown["error"] is None
