"""Writes that share a transaction because nothing happens between them: what a crash at
each of their boundaries leaves behind, and how the next run resumes from it.

A crash is an exception no outcome classifies: the job's RetryStrategy runs it again,
finding only what had committed, as a new holder would after a worker died.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import struct
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.e2e.test_publish_flow import publish, put, read, sandbox_posts
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from zakipost.config import Settings
from zakipost.models import Connection, Job, JobStatus, Post, RateBudgetUse
from zakipost.publishing import machine, tasks, transfer
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.run import PostRun
from zakipost.publishing.states import PostStatus, PostStep
from zakipost.tiktok import MIN_CHUNK_SIZE
from zakipost.worker import Worker, lease

Maker = async_sessionmaker[AsyncSession]


class Crash(Exception):
    """The worker dies here (no outcome classifies it: the job is simply run again)."""


async def _post(sessionmaker: Maker, publish_id: str | None = None) -> Post:
    query = select(Post)
    if publish_id is not None:
        query = query.where(Post.publish_id == publish_id)
    async with sessionmaker() as session:
        return (await session.scalars(query)).one()


async def _connection(sessionmaker: Maker) -> Connection:
    async with sessionmaker() as session:
        return (await session.scalars(select(Connection))).one()


async def _spent(sessionmaker: Maker, family: str) -> int:
    async with sessionmaker() as session:
        used = await session.scalar(
            select(func.count()).where(RateBudgetUse.bucket.endswith(f":{family}"))
        )
    return int(used or 0)


async def _publish(client: httpx.AsyncClient, owner: AccountWithKeys, media: MediaServer) -> str:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    return await publish(
        client,
        owner,
        video_url=put(media, "clip.mp4", make_video(seconds=3)),
        tiktok_account_id=account_id,
        privacy_level="SELF_ONLY",
    )


def _once(original: Callable[..., Awaitable[Any]], when: Callable[..., bool]) -> Any:
    """``original``, except that the first call ``when`` accepts crashes instead."""
    crashed = False

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal crashed
        if not crashed and when(*args, **kwargs):
            crashed = True
            raise Crash()
        return await original(*args, **kwargs)

    return wrapper


class TestPreflight:
    async def test_a_crash_before_the_result_leaves_the_creator_info_uncached(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: Maker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        publish_id = await _publish(client, owner, media_server)
        original = machine.step_done

        def crash_on_the_result(*args: Any, **kwargs: Any) -> None:
            if args[2] is PostStep.fetching:
                monkeypatch.setattr(machine, "step_done", original)
                raise Crash()
            original(*args, **kwargs)

        monkeypatch.setattr(machine, "step_done", crash_on_the_result)
        await worker.run_until_idle(max_jobs=1)

        # The cache, the cap check and the result are one transaction: none of it landed.
        post = await _post(sessionmaker)
        assert (post.status, post.step) == (PostStatus.processing, PostStep.preflight)
        assert post.plan is None
        assert (await _connection(sessionmaker)).creator_info_fetched_at is None
        assert await _spent(sessionmaker, "creator_info") == 1

        await settle(worker, sessionmaker)
        assert (await read(client, owner, publish_id))["status"] == "published"
        assert await _spent(sessionmaker, "creator_info") == 2  # asked again
        assert len(await sandbox_posts(client)) == 1

    async def test_a_full_window_keeps_the_creator_info_and_waits(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: Maker,
    ) -> None:
        publish_id = await _publish(client, owner, media_server)
        async with sessionmaker() as session, session.begin():
            (await session.scalars(select(Connection))).one().daily_post_cap = 0
        await worker.run_until_idle()

        shown = await read(client, owner, publish_id)
        assert (shown["status"], shown["step"]) == ("deferred", "preflight")
        assert (await _connection(sessionmaker)).creator_info_fetched_at is not None
        assert (await _post(sessionmaker)).plan is None


class TestInit:
    async def test_a_crash_after_the_intent_resumes_with_the_slot_it_holds(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        deps: PipelineDeps,
        sessionmaker: Maker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        publish_id = await _publish(client, owner, media_server)
        monkeypatch.setattr(
            deps.tiktok,
            "init_direct_video",
            _once(deps.tiktok.init_direct_video, lambda *a, **k: True),
        )
        await worker.run_until_idle(max_jobs=1)

        # Slot, budget, intent and token in one transaction, committed before the call.
        post = await _post(sessionmaker)
        assert post.step is PostStep.initializing
        assert post.init_attempted_at is not None
        assert post.chunk_size is not None
        slot = post.submitted_at
        assert slot is not None
        assert post.tiktok_publish_id is None
        assert await _spent(sessionmaker, "init") == 1
        assert await sandbox_posts(client) == []  # the init never left

        # A FILE_UPLOAD before its final chunk may init again: one post at TikTok.
        await settle(worker, sessionmaker)
        shown = await read(client, owner, publish_id)
        assert shown["status"] == "published"
        assert len(await sandbox_posts(client)) == 1
        assert await _spent(sessionmaker, "init") == 2

    async def test_a_full_budget_keeps_the_slot_and_records_no_intent(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        settings: Settings,
        sessionmaker: Maker,
    ) -> None:
        publish_id = await _publish(client, owner, media_server)
        settings.publishing.init_per_minute = 0
        await worker.run_until_idle()

        shown = await read(client, owner, publish_id)
        assert (shown["status"], shown["step"]) == ("deferred", "initializing")
        assert "requests a minute" in shown["timeline"][-1]["message"]
        post = await _post(sessionmaker)
        assert post.submitted_at is not None  # the slot taken before the budget is kept
        assert post.init_attempted_at is None
        assert await _spent(sessionmaker, "init") == 0
        assert await sandbox_posts(client) == []

    async def test_a_full_window_takes_nothing(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: Maker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        publish_id = await _publish(client, owner, media_server)
        original = machine.step_done

        def fill_the_window(*args: Any, **kwargs: Any) -> None:
            original(*args, **kwargs)
            if args[2] is PostStep.initializing:
                # Another post took the last slot while this one was probed.
                args[0].add(_other_submission(args[1], kwargs["now"]))

        monkeypatch.setattr(machine, "step_done", fill_the_window)
        async with sessionmaker() as session, session.begin():
            (await session.scalars(select(Connection))).one().daily_post_cap = 1
        await worker.run_until_idle()

        shown = await read(client, owner, publish_id)
        assert (shown["status"], shown["step"]) == ("deferred", "initializing")
        post = await _post(sessionmaker, publish_id)
        assert (post.submitted_at, post.init_attempted_at) == (None, None)
        assert await _spent(sessionmaker, "init") == 0


def _other_submission(post: Post, now: dt.datetime) -> Post:
    return Post(
        publish_id=f"p_{uuid.uuid4().hex[:20]}",
        account_id=post.account_id,
        connection_id=post.connection_id,
        kind=post.kind,
        post_mode=post.post_mode,
        status=PostStatus.processing,
        step=PostStep.awaiting_tiktok,
        submitted_at=now,
    )


class TestUpload:
    async def test_a_crash_after_the_last_chunk_asks_tiktok_and_sends_nothing_again(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: Maker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        publish_id = await _publish(client, owner, media_server)
        monkeypatch.setattr(
            machine,
            "advance",
            _once(machine.advance, lambda run, step, *a, **k: step is PostStep.awaiting_tiktok),
        )
        await worker.run_until_idle(max_jobs=1)

        # The last chunk's progress is recorded by the step after it, which never came.
        post = await _post(sessionmaker)
        assert post.step is PostStep.final_chunk
        assert post.uploaded_bytes == 0  # where the last chunk starts
        assert post.upload_url_encrypted is not None

        await settle(worker, sessionmaker)
        shown = await read(client, owner, publish_id)
        assert shown["status"] == "published"
        steps = [e["step"] for e in shown["timeline"]]
        assert steps.count("initializing") == 1
        assert steps.count("final_chunk") == 1
        assert len(await sandbox_posts(client)) == 1


class TestChunks:
    async def test_only_progress_before_the_last_two_chunks_has_a_write_of_its_own(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Three chunks of TikTok's smallest size: 5 MiB, 5 MiB and the rest.
        video = make_video(seconds=3)
        size = 3 * MIN_CHUNK_SIZE + 1024
        padding = size - len(video)
        video += struct.pack(">I", padding) + b"free" + bytes(padding - 8)
        real_plan = transfer.plan_chunks
        monkeypatch.setattr(
            transfer,
            "plan_chunks",
            lambda video_size, chunk_size=None: real_plan(
                video_size, chunk_size=chunk_size or MIN_CHUNK_SIZE
            ),
        )
        written: list[tuple[PostStep | None, int]] = []
        real_write = PostRun.write

        async def spy(self: PostRun, change: Any, **kwargs: Any) -> Any:
            result = await real_write(self, change, **kwargs)
            post = await self.load()
            written.append((post.step, post.uploaded_bytes))
            return result

        monkeypatch.setattr(PostRun, "write", spy)
        account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
        publish_id = await publish(
            client,
            owner,
            video_url=put(media_server, "big.mp4", video),
            tiktok_account_id=account_id,
            privacy_level="SELF_ONLY",
        )
        await worker.run_until_idle()

        assert (await read(client, owner, publish_id))["status"] == "published"
        during = [w for w in written if w[0] in (PostStep.uploading, PostStep.final_chunk)]
        assert during == [
            (PostStep.uploading, 0),  # the init's result
            (PostStep.uploading, MIN_CHUNK_SIZE),  # the first chunk's progress
            # The second chunk's progress, recorded before the last chunk leaves.
            (PostStep.final_chunk, 2 * MIN_CHUNK_SIZE),
        ]
        assert (PostStep.awaiting_tiktok, size) in written


class TestStatus:
    async def test_the_answer_and_the_finish_it_causes_commit_together(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: Maker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        publish_id = await _publish(client, owner, media_server)
        monkeypatch.setattr(
            machine, "apply_finish", _once(machine.apply_finish, lambda *a, **k: True)
        )
        await worker.run_until_idle(max_jobs=1)

        post = await _post(sessionmaker)
        assert (post.status, post.step) == (PostStatus.processing, PostStep.awaiting_tiktok)
        assert (post.tiktok_status, post.status_checks) == (None, 0)

        await settle(worker, sessionmaker)
        shown = await read(client, owner, publish_id)
        assert shown["status"] == "published"
        messages = [e["message"] for e in shown["timeline"]]
        assert messages.count("Published on TikTok.") == 1
        post = await _post(sessionmaker)
        assert (post.tiktok_status, post.status_checks) == ("PUBLISH_COMPLETE", 1)
        assert len(await sandbox_posts(client)) == 1


@pytest.fixture
def manual_progression(sandbox: Any) -> Iterator[None]:
    """TikTok keeps every post processing until the test completes it."""
    previous = sandbox.config.progression
    sandbox.config.progression = "manual"
    yield
    sandbox.config.progression = previous


class TestPoll:
    async def test_a_poll_is_recorded_with_the_deferral_it_leads_to(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: Maker,
        manual_progression: None,
        transactions: list[str],
    ) -> None:
        await _publish(client, owner, media_server)
        await worker.run_until_idle(max_jobs=1)

        post = await _post(sessionmaker)
        assert post.step is PostStep.awaiting_tiktok
        assert (post.tiktok_status, post.status_checks) == ("PROCESSING_UPLOAD", 1)
        assert post.run_at is not None
        # As a published post's, with the deferral in place of the finish.
        assert len(transactions) == 11

    async def test_a_crash_before_the_deferral_records_nothing_and_polls_again(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sandbox: Any,
        sessionmaker: Maker,
        monkeypatch: pytest.MonkeyPatch,
        manual_progression: None,
    ) -> None:
        publish_id = await _publish(client, owner, media_server)
        monkeypatch.setattr(machine, "_defer", _once(machine._defer, lambda *a, **k: True))
        await worker.run_until_idle(max_jobs=1)

        post = await _post(sessionmaker)
        assert post.step is PostStep.awaiting_tiktok
        assert (post.tiktok_status, post.status_checks) == (None, 0)

        await sandbox.complete(post.tiktok_publish_id)
        await settle(worker, sessionmaker)
        assert (await read(client, owner, publish_id))["status"] == "published"
        assert len(await sandbox_posts(client)) == 1


class TestEnd:
    async def test_the_published_write_completes_the_job(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: Maker,
    ) -> None:
        publish_id = await _publish(client, owner, media_server)
        await worker.run_until_idle()

        assert (await read(client, owner, publish_id))["status"] == "published"
        job = await _job(sessionmaker)
        assert (job.status, job.result, job.attempts) == (JobStatus.succeeded, "published", 1)

    async def test_a_crash_in_the_completion_leaves_the_post_unpublished_until_the_retry(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: Maker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        publish_id = await _publish(client, owner, media_server)
        monkeypatch.setattr(lease, "complete", _once(lease.complete, lambda *a, **k: True))
        await worker.run_until_idle(max_jobs=1)

        # The finish and the job's completion are one transaction: neither landed.
        post = await _post(sessionmaker)
        assert (post.status, post.step) == (PostStatus.processing, PostStep.awaiting_tiktok)
        assert (await _job(sessionmaker)).status is JobStatus.todo  # retried

        await settle(worker, sessionmaker)
        shown = await read(client, owner, publish_id)
        assert shown["status"] == "published"
        messages = [e["message"] for e in shown["timeline"]]
        assert messages.count("Published on TikTok.") == 1
        job = await _job(sessionmaker)
        assert (job.status, job.result, job.attempts) == (JobStatus.succeeded, "published", 2)
        assert len(await sandbox_posts(client)) == 1

    async def test_a_failure_completes_the_job_in_its_own_write(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: Maker,
    ) -> None:
        account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
        publish_id = await publish(
            client,
            owner,
            video_url=put(media_server, "clip.txt", b"not a video"),
            tiktok_account_id=account_id,
            privacy_level="SELF_ONLY",
        )
        await worker.run_until_idle()

        assert (await read(client, owner, publish_id))["status"] == "failed"
        job = await _job(sessionmaker)
        assert (job.status, job.result, job.attempts) == (JobStatus.succeeded, "failed", 1)


async def _job(sessionmaker: Maker) -> Job:
    async with sessionmaker() as session:
        return (await session.scalars(select(Job).where(Job.kind == tasks.RUN_TASK))).one()


@pytest.fixture
def transactions(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The transactions begun by publish jobs' own tasks (not the runner's claims and
    completions), by the first statement each ran."""
    handlers: set[asyncio.Task[Any]] = set()
    begun: list[str] = []
    original = tasks.run_post

    async def tracked(*args: Any, **kwargs: Any) -> str:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            return await original(*args, **kwargs)
        finally:
            handlers.discard(task)

    def on_begin(connection: Any) -> None:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return
        if task in handlers:
            begun.append("begin")

    monkeypatch.setattr(tasks, "run_post", tracked)
    event.listen(engine.sync_engine, "begin", on_begin)
    yield begun
    event.remove(engine.sync_engine, "begin", on_begin)


async def test_a_video_post_takes_eleven_transactions(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    media_server: MediaServer,
    worker: Worker,
    sessionmaker: Maker,
    transactions: list[str],
) -> None:
    """One FILE_UPLOAD video in one chunk, creator info not cached, published on the first
    poll: start; creator info's budget and token; the preflight result; fetched; probed;
    the slot, init budget, intent and token; the init's result; before the last chunk;
    uploaded; the status budget and token; published. (22 before they were merged.)"""
    publish_id = await _publish(client, owner, media_server)
    await worker.run_until_idle()

    assert (await read(client, owner, publish_id))["status"] == "published"
    assert len(transactions) == 11
