"""Task registry: the names workers know, their handlers and their policies."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from zakipost.worker.errors import UnknownTask
from zakipost.worker.retry import RetryStrategy
from zakipost.worker.schedule import Periodic

if TYPE_CHECKING:
    from zakipost.worker.context import JobContext

# ``async def handler(ctx: JobContext, **payload) -> JSON-able | None``
Handler = Callable[..., Coroutine[Any, Any, Any]]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True, slots=True)
class Task:
    """A registered handler with its retry policy and, optionally, its own lease length."""

    name: str
    handler: Handler
    retry: RetryStrategy = field(default_factory=RetryStrategy)
    # None: the worker's lease_seconds. Long steps may ask for more.
    lease_seconds: float | None = None

    def bind(self, ctx: JobContext, payload: dict[str, Any]) -> inspect.BoundArguments:
        """Match the payload to the handler's keywords; TypeError when it does not fit."""
        return inspect.signature(self.handler).bind(ctx, **payload)


class TaskRegistry:
    """The tasks a worker can run, and the periodic jobs it keeps scheduled.

    Handlers are ``async def handler(ctx: JobContext, **payload)``: the job's JSON
    payload arrives as keyword arguments, so the signature documents (and checks)
    what a task takes. A payload that does not fit the signature fails the job at
    once. Whatever the handler returns (JSON-able) is stored as the job's ``result``.

        registry = TaskRegistry()

        @registry.task("connection.refresh_tokens", retry=RetryStrategy(max_attempts=5))
        async def refresh_tokens(ctx: JobContext, *, connection_id: str) -> None: ...
    """

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._periodic: dict[str, Periodic] = {}

    def task(
        self,
        name: str,
        *,
        retry: RetryStrategy | None = None,
        lease_seconds: float | None = None,
    ) -> Callable[[H], H]:
        """Register the decorated coroutine function under ``name``."""

        def register(handler: H) -> H:
            self.add(Task(name, handler, retry or RetryStrategy(), lease_seconds))
            return handler

        return register

    def add(self, task: Task) -> None:
        """Register ``task``; a name can be registered once."""
        if not inspect.iscoroutinefunction(task.handler):
            raise TypeError(f"handler of {task.name!r} must be an async function")
        if task.name in self._tasks:
            raise ValueError(f"task {task.name!r} is already registered")
        if task.lease_seconds is not None and task.lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self._tasks[task.name] = task

    def periodic(
        self,
        kind: str,
        *,
        every: dt.timedelta,
        payload: dict[str, Any] | None = None,
        priority: int = 0,
        name: str | None = None,
    ) -> Periodic:
        """Keep one occurrence of ``kind`` queued at each multiple of ``every``."""
        entry = Periodic(kind, every, payload or {}, priority=priority, name=name)
        if entry.key in self._periodic:
            raise ValueError(f"periodic {entry.key!r} is already registered")
        self._periodic[entry.key] = entry
        return entry

    def get(self, name: str) -> Task:
        """The task registered under ``name``; ``UnknownTask`` otherwise."""
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTask(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    @property
    def names(self) -> frozenset[str]:
        """Every registered task name (the kinds a worker claims)."""
        return frozenset(self._tasks)

    @property
    def tasks(self) -> tuple[Task, ...]:
        """Every registered task."""
        return tuple(self._tasks.values())

    @property
    def periodics(self) -> Iterable[Periodic]:
        """The periodic jobs to keep scheduled."""
        return tuple(self._periodic.values())
