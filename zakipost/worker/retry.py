"""Retry policy: a value object that turns a handler's exception into a decision."""

from __future__ import annotations

import datetime as dt
import enum
import random
from collections.abc import Callable
from dataclasses import dataclass

from zakipost.worker.errors import Defer, PermanentJobError

# Long enough for a traceback's last line and a TikTok error message; short enough for a row.
MAX_ERROR_LENGTH = 2000


class RetryAction(enum.StrEnum):
    """What a RetryDecision does with the job."""

    retry = "retry"  # back to todo at run_at; the attempt counted
    defer = "defer"  # back to todo at run_at; the attempt given back
    fail = "fail"  # failed for good


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What happens to a job whose attempt raised: the action, when, and the reason."""

    action: RetryAction
    error: str
    # When the job runs again; None when it fails.
    run_at: dt.datetime | None = None


def describe(exc: BaseException) -> str:
    """A one-line account of an exception, truncated to fit ``last_error``."""
    if isinstance(exc, PermanentJobError | Defer) and str(exc):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return truncate(text)


def truncate(text: str, limit: int = MAX_ERROR_LENGTH) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class RetryStrategy:
    """Exponential backoff with jitter, up to ``max_attempts`` attempts in all.

    The n-th retry waits ``min(max_delay, base_delay * multiplier ** (n - 1))`` seconds,
    less a random part of up to ``jitter`` of it, so workers that failed together do not
    come back together (the cap is jittered too, for the same reason). Below the cap,
    with ``multiplier >= 2`` and ``jitter <= 0.5``, a later retry never waits less than
    an earlier one. ``rand`` returns a float in [0, 1); inject a seeded
    ``random.Random().random`` (or a constant) for deterministic tests.

    Classification: ``PermanentJobError`` fails at once; ``Defer`` re-queues at its time
    without counting the attempt; ``TransientJobError`` and any other exception retry
    until the attempts run out.
    """

    max_attempts: int = 8
    base_delay: float = 2.0
    multiplier: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.5
    rand: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValueError("delays must be non-negative and multiplier at least 1")

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait before the next run, after ``attempts`` attempts have failed."""
        exponent = max(attempts - 1, 0)
        # Cap the exponent first so huge attempt counts cannot overflow a float.
        raw = self.base_delay * self.multiplier ** min(exponent, 64)
        capped = min(raw, self.max_delay)
        return dt.timedelta(seconds=capped * (1 - self.jitter * self.rand()))

    def decide(
        self,
        exc: BaseException,
        *,
        attempts: int,
        now: dt.datetime,
        max_attempts: int | None = None,
    ) -> RetryDecision:
        """Classify ``exc`` raised by attempt number ``attempts``.

        ``max_attempts`` is the job's own limit, when it has one; it wins over the strategy's.
        """
        limit = max_attempts if max_attempts is not None else self.max_attempts
        if isinstance(exc, Defer):
            return RetryDecision(RetryAction.defer, describe(exc), exc.run_at(now))
        if isinstance(exc, PermanentJobError):
            return RetryDecision(RetryAction.fail, describe(exc))
        if attempts >= limit:
            return RetryDecision(
                RetryAction.fail, truncate(f"gave up after {attempts} attempts: {describe(exc)}")
            )
        return RetryDecision(RetryAction.retry, describe(exc), now + self.delay(attempts))
