"""The sandbox's notion of "now": injectable, and always advanceable for tests and demos."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Anything with `now()` (aware UTC) and `advance(seconds)`."""

    def now(self) -> datetime: ...

    def advance(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time plus an offset that `advance` grows."""

    realtime = True

    def __init__(self, source: Callable[[], datetime] | None = None) -> None:
        self._source = source or (lambda: datetime.now(UTC))
        self._offset = timedelta()

    def now(self) -> datetime:
        return _aware(self._source()) + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)


class ManualClock:
    """A frozen clock that only moves when told to (deterministic tests)."""

    realtime = False

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _aware(start or datetime(2026, 11, 2, 12, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        self._now = _aware(when)


def as_clock(clock: Clock | Callable[[], datetime] | None) -> Clock:
    """Accept a Clock, a bare `() -> datetime` callable, or None (system time)."""
    if clock is None:
        return SystemClock()
    if isinstance(clock, Clock):
        return clock
    return SystemClock(clock)


def is_realtime(clock: Clock) -> bool:
    return bool(getattr(clock, "realtime", True))


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)
