"""machine.settle: each outcome's side effects, on a post at a given step, through a real
fenced job context."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import AccountWithKeys
from zakipost.billing import points
from zakipost.models import (
    Connection,
    MediaKind,
    PointEntry,
    PointEntryKind,
    Post,
    PostEvent,
    PostMode,
    PostRequest,
)
from zakipost.publishing import daily_cap, machine
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.failures import PostFailure
from zakipost.publishing.machine import Deferral, Fail, Finish, Retry, Undetermined
from zakipost.publishing.run import PostRun
from zakipost.publishing.states import PostStatus, PostStep
from zakipost.worker import JobContext, enqueue, lease

Maker = async_sessionmaker[AsyncSession]
COST = 10


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(deps: PipelineDeps) -> Clock:
    deps.clock = clock = Clock()
    return clock


async def _run_at(
    deps: PipelineDeps,
    owner: AccountWithKeys,
    clock: Clock,
    step: PostStep,
    *,
    publish_id: str | None = None,
    media_path: Path | None = None,
    owned: bool = True,
) -> PostRun:
    """A processing post at ``step`` whose points were debited, and its claimed job."""
    sessionmaker = deps.sessionmaker
    post_id = uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        connection = Connection(id=uuid.uuid4(), account_id=owner.account.id, open_id="c1")
        post = Post(
            id=post_id,
            publish_id=f"v_pub_{post_id.hex[:16]}",
            account_id=owner.account.id,
            connection_id=connection.id,
            kind=MediaKind.video,
            post_mode=PostMode.direct,
            request=PostRequest(),
            cost_points=COST,
            tiktok_publish_id=publish_id,
            media_path=str(media_path) if media_path else None,
            media_path_owned=owned,
            upload_url_encrypted="sealed",
        )
        session.add_all([connection, post])
        session.add(machine.new_post_status(post, PostStatus.queued, "Accepted.", now=clock.now))
        machine.transition(
            session, post, PostStatus.processing, "Started.", step=PostStep.preflight
        )
        for next_step in _path_to(step):
            machine.transition(session, post, PostStatus.processing, "Next.", step=next_step)
        daily_cap.mark_submitted(post, clock.now)
        await points.debit(
            session, owner.account.id, COST, reason="Publish", reference=post.publish_id
        )
        await enqueue(session, "publishing.run", {"post_id": str(post_id)}, run_at=clock.now)
    async with sessionmaker() as session, session.begin():
        [job] = await lease.claim(
            session, owner="w1", kinds={"publishing.run"}, limit=1, now=clock.now, lease_seconds=60
        )
    ctx = JobContext(job, sessionmaker=sessionmaker, clock=clock, worker_id="w1")
    return PostRun(ctx, deps, post_id)


async def _another_job(run: PostRun, clock: Clock) -> PostRun:
    """A new job of ``run``'s post, claimed."""
    sessionmaker = run.deps.sessionmaker
    async with sessionmaker() as session, session.begin():
        await enqueue(session, "publishing.run", {"post_id": str(run.post_id)}, run_at=clock.now)
    async with sessionmaker() as session, session.begin():
        [job] = await lease.claim(
            session, owner="w2", kinds={"publishing.run"}, limit=1, now=clock.now, lease_seconds=60
        )
    ctx = JobContext(job, sessionmaker=sessionmaker, clock=clock, worker_id="w2")
    return PostRun(ctx, run.deps, run.post_id)


def _path_to(step: PostStep) -> list[PostStep]:
    path = [PostStep.fetching, PostStep.probing, PostStep.initializing, PostStep.uploading]
    path += [PostStep.final_chunk, PostStep.awaiting_tiktok]
    return [] if step is PostStep.preflight else path[: path.index(step) + 1]


async def _balance(sessionmaker: Maker, owner: AccountWithKeys) -> int:
    async with sessionmaker() as session:
        return await points.balance(session, owner.account.id)


class TestFail:
    async def test_before_tiktok_had_it_gives_everything_back(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock, tmp_path: Path
    ) -> None:
        media = tmp_path / "clip.mp4"
        media.write_bytes(b"video")
        run = await _run_at(deps, owner, clock, PostStep.initializing, media_path=media)
        before = await _balance(deps.sessionmaker, owner)
        failure = PostFailure("media_lost", "gone", retryable=True, fail_reason="x")

        assert await machine.settle(run, Fail(failure)) is None

        post = await run.load()
        assert (post.status, post.step) == (PostStatus.failed, PostStep.done)
        assert (post.error_code, post.error_message, post.error_retryable) == (
            "media_lost",
            "gone",
            True,
        )
        assert post.tiktok_fail_reason == "x"
        assert post.finished_at == clock.now
        assert post.submitted_at is None  # the daily slot is given back
        assert post.upload_url_encrypted is None
        assert await _balance(deps.sessionmaker, owner) == before + COST
        assert not media.exists()

    async def test_after_tiktok_had_it_the_slot_stays_taken(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
    ) -> None:
        run = await _run_at(deps, owner, clock, PostStep.awaiting_tiktok, publish_id="p_1")
        await machine.settle(run, Fail(PostFailure("spam_risk_text", "no")))
        assert (await run.load()).submitted_at == clock.now

    async def test_a_callers_error_before_tiktok_is_refunded_once(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
    ) -> None:
        run = await _run_at(deps, owner, clock, PostStep.probing)
        before = await _balance(deps.sessionmaker, owner)
        failure = Fail(PostFailure("video_rejected", "no", caller_error=True))
        await machine.settle(run, failure)
        # A repeat refunds nothing more. The first settle completed its job, so the repeat
        # is another job of the same post (as a webhook's failure after the job's would be).
        await machine.settle(await _another_job(run, clock), failure)
        assert await _balance(deps.sessionmaker, owner) == before + COST
        assert (await run.load()).points_refunded == COST
        async with deps.sessionmaker() as session:
            refunds = await session.scalar(
                select(func.count()).where(
                    PointEntry.reference == (await run.load()).publish_id,
                    PointEntry.kind == PointEntryKind.refund,
                )
            )
        assert refunds == 1

    async def test_a_callers_error_before_tiktok_stays_charged_when_the_operator_says(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
    ) -> None:
        deps.settings.billing.charge_caller_errors = True
        run = await _run_at(deps, owner, clock, PostStep.probing)
        before = await _balance(deps.sessionmaker, owner)
        await machine.settle(run, Fail(PostFailure("video_rejected", "no", caller_error=True)))
        assert await _balance(deps.sessionmaker, owner) == before
        assert (await run.load()).points_refunded == 0

    async def test_a_callers_error_found_by_tiktok_is_not_refunded_by_default(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
    ) -> None:
        run = await _run_at(deps, owner, clock, PostStep.awaiting_tiktok, publish_id="p_1")
        before = await _balance(deps.sessionmaker, owner)
        failure = PostFailure("duration_check_failed", "short", caller_error=True)
        await machine.settle(run, Fail(failure))
        assert await _balance(deps.sessionmaker, owner) == before

    async def test_tiktoks_own_failure_after_init_is_refunded(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
    ) -> None:
        run = await _run_at(deps, owner, clock, PostStep.awaiting_tiktok, publish_id="p_1")
        before = await _balance(deps.sessionmaker, owner)
        await machine.settle(run, Fail(PostFailure("internal", "TikTok failed")))
        assert await _balance(deps.sessionmaker, owner) == before + COST

    async def test_the_stores_own_file_is_left_alone(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock, tmp_path: Path
    ) -> None:
        media = tmp_path / "stored.mp4"
        media.write_bytes(b"video")
        run = await _run_at(deps, owner, clock, PostStep.probing, media_path=media, owned=False)
        await machine.settle(run, Fail(PostFailure("x", "y")))
        assert media.exists()


class TestDeferral:
    async def test_before_tiktok_the_post_is_deferred(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
    ) -> None:
        run = await _run_at(deps, owner, clock, PostStep.initializing)
        until = clock.now + dt.timedelta(minutes=1)
        later = await machine.settle(run, Deferral(until, "a budget"))
        assert later is not None and later.run_at(clock.now) == until
        post = await run.load()
        assert (post.status, post.step, post.run_at) == (
            PostStatus.deferred,
            PostStep.initializing,
            until,
        )

    async def test_waiting_on_tiktok_is_not_a_deferral(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
    ) -> None:
        run = await _run_at(deps, owner, clock, PostStep.awaiting_tiktok, publish_id="p_1")
        until = clock.now + dt.timedelta(seconds=5)
        assert await machine.settle(run, Deferral(until, "processing")) is not None
        post = await run.load()
        assert (post.status, post.run_at) == (PostStatus.processing, until)


class TestRetry:
    async def test_counts_per_step_then_gives_up(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
    ) -> None:
        run = await _run_at(deps, owner, clock, PostStep.uploading, publish_id="p_1")
        retry = Retry("TikTok internal_error", give_up=Fail(PostFailure("internal_error", "x")))
        limit = deps.settings.worker.max_attempts
        for failures in range(1, limit):
            later = await machine.settle(run, retry)
            assert later is not None and later.run_at(clock.now) > clock.now
            post = await run.load()
            assert (post.status, post.step_failures) == (PostStatus.processing, failures)
        assert await machine.settle(run, retry) is None
        assert (await run.load()).status is PostStatus.failed

    async def test_a_completed_step_resets_the_count(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
    ) -> None:
        run = await _run_at(deps, owner, clock, PostStep.uploading, publish_id="p_1")
        await machine.settle(run, Retry("x", give_up=Undetermined("?")))
        assert (await run.load()).step_failures == 1
        await machine.advance(run, PostStep.final_chunk, "Sending the last chunk.")
        assert (await run.load()).step_failures == 0


class TestUndetermined:
    async def test_marks_the_post_unknown_and_checks_later(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
    ) -> None:
        run = await _run_at(deps, owner, clock, PostStep.final_chunk, publish_id="p_1")
        later = await machine.settle(run, Undetermined("TikTok kept failing."))
        assert later is not None
        assert later.run_at(clock.now) == clock.now + machine.LATE_POLL_INTERVAL
        post = await run.load()
        assert (post.status, post.step, post.error_code) == (
            PostStatus.unknown,
            PostStep.awaiting_tiktok,
            "outcome_unknown",
        )

    async def test_without_a_publish_id_it_is_not_checked_again(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock
    ) -> None:
        # A PULL_FROM_URL init that may have reached TikTok, with no publish_id back: TikTok
        # cannot be asked, and re-running only repeated the verdict every ten minutes.
        run = await _run_at(deps, owner, clock, PostStep.initializing)
        later = await machine.settle(run, Undetermined("Cannot tell whether TikTok has it."))
        assert later is None
        post = await run.load()
        assert (post.status, post.step) == (PostStatus.unknown, PostStep.initializing)


class TestFinish:
    async def test_published_with_its_ids_and_a_timeline_line(
        self, deps: PipelineDeps, owner: AccountWithKeys, clock: Clock, tmp_path: Path
    ) -> None:
        media = tmp_path / "clip.mp4"
        media.write_bytes(b"video")
        run = await _run_at(
            deps, owner, clock, PostStep.awaiting_tiktok, publish_id="p_1", media_path=media
        )
        finish = Finish(PostStatus.published, "Published on TikTok.", ("7300",))
        assert await machine.settle(run, finish) is None
        post = await run.load()
        assert (post.status, post.step, post.tiktok_post_ids) == (
            PostStatus.published,
            PostStep.done,
            ["7300"],
        )
        assert post.upload_url_encrypted is None and not media.exists()
        async with deps.sessionmaker() as session:
            last = await session.get(PostEvent, await _last_event_id(session, post.id))
        assert last is not None and last.message == "Published on TikTok."


async def _last_event_id(session: AsyncSession, post_id: uuid.UUID) -> int:
    value = await session.scalar(select(func.max(PostEvent.id)).where(PostEvent.post_id == post_id))
    assert value is not None
    return int(value)
