from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.worker.helpers import FakeClock, add_job, get_job
from zakipost.models.job import JobStatus
from zakipost.worker import (
    Defer,
    JobContext,
    PermanentJobError,
    RetryAction,
    RetryStrategy,
    TaskRegistry,
    TransientJobError,
    Worker,
    lease,
)
from zakipost.worker.retry import MAX_ERROR_LENGTH

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def seconds(delta: dt.timedelta) -> float:
    return delta.total_seconds()


class TestDelay:
    def test_grows_exponentially_up_to_the_cap(self) -> None:
        strategy = RetryStrategy(
            base_delay=2, multiplier=2, max_delay=30, jitter=0.5, rand=lambda: 0.0
        )
        assert [seconds(strategy.delay(n)) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]

    def test_jitter_takes_off_up_to_its_share(self) -> None:
        strategy = RetryStrategy(base_delay=10, jitter=0.5, rand=lambda: 0.999999)
        assert 5 <= seconds(strategy.delay(1)) < 5.0001

    def test_a_seeded_random_makes_it_repeatable(self) -> None:
        def delays(seed: int) -> list[float]:
            strategy = RetryStrategy(rand=random.Random(seed).random)
            return [seconds(strategy.delay(n)) for n in range(1, 6)]

        assert delays(7) == delays(7)
        assert delays(7) != delays(8)

    @given(
        attempts=st.integers(min_value=1, max_value=9),
        first=st.floats(min_value=0, max_value=1, exclude_max=True),
        second=st.floats(min_value=0, max_value=1, exclude_max=True),
    )
    def test_below_the_cap_never_shrinks_from_one_retry_to_the_next(
        self, attempts: int, first: float, second: float
    ) -> None:
        draws = iter([first, second])
        # 2 ** 9 = 512 s: attempts 1..10 stay under the 600 s cap.
        strategy = RetryStrategy(base_delay=1, max_delay=600, rand=lambda: next(draws))
        assert strategy.delay(attempts + 1) >= strategy.delay(attempts)

    @given(
        attempts=st.integers(min_value=1, max_value=10_000),
        draw=st.floats(min_value=0, max_value=1, exclude_max=True),
    )
    def test_stays_within_jitter_of_the_capped_delay(self, attempts: int, draw: float) -> None:
        strategy = RetryStrategy(base_delay=1, max_delay=600, jitter=0.5, rand=lambda: draw)
        capped = min(600, 2 ** min(attempts - 1, 64))
        assert capped / 2 <= seconds(strategy.delay(attempts)) <= capped

    def test_refuses_nonsense(self) -> None:
        with pytest.raises(ValueError, match="max_attempts"):
            RetryStrategy(max_attempts=0)
        with pytest.raises(ValueError, match="jitter"):
            RetryStrategy(jitter=2)


class TestDecide:
    strategy = RetryStrategy(max_attempts=3, base_delay=10, jitter=0, rand=lambda: 0.0)

    def test_a_transient_error_retries_after_the_backoff(self) -> None:
        decision = self.strategy.decide(TransientJobError("timeout"), attempts=2, now=NOW)
        assert decision.action is RetryAction.retry
        assert decision.run_at == NOW + dt.timedelta(seconds=20)
        assert decision.error == "TransientJobError: timeout"

    def test_an_unknown_exception_counts_as_transient(self) -> None:
        decision = self.strategy.decide(KeyError("x"), attempts=1, now=NOW)
        assert decision.action is RetryAction.retry
        assert decision.error == "KeyError: 'x'"

    def test_the_last_attempt_fails(self) -> None:
        decision = self.strategy.decide(TransientJobError("timeout"), attempts=3, now=NOW)
        assert decision.action is RetryAction.fail
        assert decision.run_at is None
        assert decision.error == "gave up after 3 attempts: TransientJobError: timeout"

    def test_the_jobs_own_limit_wins(self) -> None:
        decision = self.strategy.decide(ValueError(), attempts=1, now=NOW, max_attempts=1)
        assert decision.action is RetryAction.fail

    def test_a_permanent_error_fails_at_once_with_its_message(self) -> None:
        decision = self.strategy.decide(PermanentJobError("video too long"), attempts=1, now=NOW)
        assert (decision.action, decision.error) == (RetryAction.fail, "video too long")

    def test_defer_runs_again_at_its_time(self) -> None:
        until = NOW + dt.timedelta(hours=2)
        decision = self.strategy.decide(Defer(until, "daily cap"), attempts=3, now=NOW)
        assert (decision.action, decision.run_at, decision.error) == (
            RetryAction.defer,
            until,
            "daily cap",
        )

    def test_defer_takes_a_delay(self) -> None:
        decision = self.strategy.decide(Defer(dt.timedelta(minutes=1)), attempts=1, now=NOW)
        assert decision.run_at == NOW + dt.timedelta(minutes=1)

    def test_long_errors_are_truncated(self) -> None:
        decision = self.strategy.decide(PermanentJobError("x" * 10_000), attempts=1, now=NOW)
        assert len(decision.error) == MAX_ERROR_LENGTH
        assert decision.error.endswith("…")


class TestInTheWorker:
    @pytest.fixture
    def worker(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
    ) -> Worker:
        return Worker(sessionmaker, registry, clock=clock, worker_id="w1")

    async def test_backoff_grows_and_stops_at_max_attempts(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        worker: Worker,
    ) -> None:
        draws = iter([0.0, 0.5])
        strategy = RetryStrategy(
            max_attempts=3, base_delay=10, jitter=0.5, rand=lambda: next(draws)
        )
        runs: list[int] = []

        @registry.task("demo.flaky", retry=strategy)
        async def flaky(ctx: JobContext) -> None:
            runs.append(ctx.attempt)
            raise TransientJobError(f"timeout on attempt {ctx.attempt}")

        job_id = await add_job(sessionmaker, "demo.flaky", now=clock())

        assert await worker.run_until_idle() == 1
        job = await get_job(sessionmaker, job_id)
        assert (job.status, job.attempts, job.run_at) == (
            JobStatus.todo,
            1,
            clock() + dt.timedelta(seconds=10),  # 10 s, no jitter drawn
        )
        assert job.last_error == "TransientJobError: timeout on attempt 1"
        assert await worker.run_until_idle() == 0  # not due yet

        clock.advance(10)
        assert await worker.run_until_idle() == 1
        job = await get_job(sessionmaker, job_id)
        assert (job.attempts, job.run_at) == (2, clock() + dt.timedelta(seconds=15))  # 20 s - 25 %

        clock.advance(15)
        assert await worker.run_until_idle() == 1
        job = await get_job(sessionmaker, job_id)
        assert (job.status, job.attempts, job.finished_at) == (JobStatus.failed, 3, clock())
        assert job.last_error == "gave up after 3 attempts: TransientJobError: timeout on attempt 3"
        assert runs == [1, 2, 3]

    async def test_a_permanent_error_fails_at_once(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        worker: Worker,
    ) -> None:
        @registry.task("demo.refused")
        async def refused(ctx: JobContext) -> None:
            raise PermanentJobError("the creator disabled duets for this account")

        job_id = await add_job(sessionmaker, "demo.refused", now=clock())
        await worker.run_until_idle()

        job = await get_job(sessionmaker, job_id)
        assert (job.status, job.attempts) == (JobStatus.failed, 1)
        assert job.last_error == "the creator disabled duets for this account"

    async def test_defer_requeues_at_the_time_without_using_an_attempt(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        worker: Worker,
    ) -> None:
        until = clock() + dt.timedelta(hours=1)

        @registry.task("demo.capped", retry=RetryStrategy(max_attempts=1))
        async def capped(ctx: JobContext) -> str:
            if ctx.now() < until:
                raise Defer(until, "daily cap reached")
            return "posted"

        job_id = await add_job(sessionmaker, "demo.capped", now=clock())
        await worker.run_until_idle()

        job = await get_job(sessionmaker, job_id)
        assert (job.status, job.run_at, job.attempts) == (JobStatus.todo, until, 0)
        assert job.last_error == "daily cap reached"

        clock.advance(hours=1)
        await worker.run_until_idle()
        job = await get_job(sessionmaker, job_id)
        # max_attempts=1 and it still ran: the deferral was not an attempt.
        assert (job.status, job.attempts, job.result) == (JobStatus.succeeded, 1, "posted")

    async def test_a_payload_that_does_not_fit_fails_at_once(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        worker: Worker,
    ) -> None:
        @registry.task("demo.typed")
        async def typed(ctx: JobContext, *, post_id: str) -> None:
            raise AssertionError("not reached")

        job_id = await add_job(sessionmaker, "demo.typed", {"postid": "1"}, now=clock())
        await worker.run_until_idle()

        job = await get_job(sessionmaker, job_id)
        assert job.status is JobStatus.failed
        assert job.attempts == 1
        assert job.last_error is not None
        assert job.last_error.startswith("payload does not fit task 'demo.typed'")

    async def test_a_job_whose_workers_keep_dying_fails_after_max_attempts(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        clock: FakeClock,
        worker: Worker,
    ) -> None:
        @registry.task("demo.crashy")
        async def crashy(ctx: JobContext) -> None:
            raise AssertionError("not reached: the attempts ran out")

        job_id = await add_job(sessionmaker, "demo.crashy", max_attempts=2, now=clock())
        for owner in ("dead-1", "dead-2"):
            async with sessionmaker() as session, session.begin():
                await lease.claim(
                    session,
                    owner=owner,
                    kinds={"demo.crashy"},
                    limit=1,
                    now=clock(),
                    lease_seconds=60,
                )
            clock.advance(61)

        assert await worker.run_until_idle() == 1
        job = await get_job(sessionmaker, job_id)
        assert (job.status, job.attempts) == (JobStatus.failed, 3)
        assert job.last_error is not None
        assert "never finished" in job.last_error
