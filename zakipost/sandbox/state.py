"""The sandbox's state root: everything TikTok "knows", plus the Python control API.

`Sandbox` holds the stores of each API family (accounts, publishing), the clock, the seeded
RNG, faults, rate limits, webhooks and background work (pulls). `reset()` puts it back to
its first state (the clock is left alone: it belongs to whoever injected it).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import logging
import os
import random
import shutil
import ssl
import tempfile
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

import certifi
import httpx

from .accounts import Accounts
from .clock import Clock, is_realtime
from .config import SandboxConfig
from .creators import builtin_creators, creator_from_spec
from .errors import DEFAULT_MESSAGES, FAIL_REASONS
from .faults import Faults
from .ids import IdFactory
from .models import Creator, Publish
from .progression import Progression
from .publishing import Publishing
from .ratelimit import RateLimiter
from .tokenlog import ExpiredTokenUse, RefreshAttempt
from .webhooks import Webhooks

log = logging.getLogger("zakipost.sandbox")

HttpClientFactory = Callable[[], httpx.AsyncClient]


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    # Built once: loading the CA bundle costs more than a whole local request.
    return ssl.create_default_context(cafile=certifi.where())


def _default_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        verify=_tls_context(), follow_redirects=False, timeout=httpx.Timeout(30.0)
    )


class Sandbox:
    """State and control of one emulated TikTok (one registered app, many creators)."""

    def __init__(
        self,
        config: SandboxConfig,
        clock: Clock,
        http_client_factory: HttpClientFactory | None = None,
    ) -> None:
        self.initial_config = copy.deepcopy(config)
        self.config = copy.deepcopy(config)
        self.clock = clock
        self.http_client: HttpClientFactory = http_client_factory or _default_http_client
        self.rng = random.Random(config.seed)
        self.ids = IdFactory(self.rng)
        self.accounts = Accounts(self)
        self.publishing = Publishing(self)
        self.progression = Progression(self)
        self.webhooks = Webhooks(self)
        self.faults = Faults()
        self.rate_limiter = RateLimiter()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: list[asyncio.TimerHandle] = []
        if config.storage_dir:
            self.storage_dir = config.storage_dir
            os.makedirs(self.storage_dir, exist_ok=True)
        else:
            self.storage_dir = tempfile.mkdtemp(prefix="zakipost-sandbox-")
            weakref.finalize(self, shutil.rmtree, self.storage_dir, True)
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the first state: built-in creators, no tokens, no publishes, no faults."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.config = copy.deepcopy(self.initial_config)
        self.rng.seed(self.config.seed)
        self.accounts = Accounts(self)
        self.publishing.clear_files()
        self.publishing = Publishing(self)
        self.progression = Progression(self)
        self.webhooks.reset()
        self.faults.reset()
        self.rate_limiter.reset()
        for creator in builtin_creators(self.config.client_key, self.clock.now()):
            self.accounts.add_creator(creator)

    def configure(self, **changes: Any) -> SandboxConfig:
        """Change settings at run time (until the next reset)."""
        if "client_key" in changes or "storage_dir" in changes:
            raise ValueError("client_key and storage_dir cannot change at run time")
        self.config = self.config.updated(changes)
        if "seed" in changes:
            self.rng.seed(self.config.seed)
        return self.config

    def log_id(self) -> str:
        return self.ids.log_id(self.clock.now())

    def message_for(self, code: str) -> str:
        return DEFAULT_MESSAGES.get(code, "")

    # -- background work -------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sandbox background task failed", exc_info=task.exception())

    def wake_at(self, seconds: float) -> None:
        """With a real-time clock, tick again after `seconds` so "time" mode moves unaided."""
        if not is_realtime(self.clock):
            return
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            self._timers = [t for t in self._timers if not t.cancelled() and t.when() > loop.time()]
            self._timers.append(loop.call_later(max(0.0, seconds) + 0.01, self.tick))

    def tick(self) -> None:
        """Apply every transition that is due by the clock ("time" mode)."""
        self.progression.tick()

    async def settle(self, max_wait: float | None = 30.0) -> None:
        """Wait for background work: running pulls and queued webhook deliveries."""

        async def wait() -> None:
            while self._tasks or not self.webhooks.idle:
                if self._tasks:
                    await asyncio.gather(*list(self._tasks), return_exceptions=True)
                await self.webhooks.drain()

        await asyncio.wait_for(wait(), max_wait)

    # -- creators and consents ---------------------------------------------------------------

    @property
    def creators(self) -> list[Creator]:
        return list(self.accounts.creators.values())

    def creator(self, ref: str) -> Creator:
        """A creator by open_id or username; KeyError if none."""
        found = self.accounts.find_creator(ref)
        if found is None:
            raise KeyError(ref)
        return found

    def add_creator(self, **spec: Any) -> Creator:
        return self.accounts.add_creator(
            creator_from_spec(spec, self.config.client_key, self.clock.now())
        )

    def issue_token(self, creator: str, scopes: list[str] | None = None) -> dict[str, Any]:
        """Consent without the browser: the token endpoint's response for `creator`.

        `scopes` defaults to every scope the app is approved for; asking for any other one
        raises `OAuthError("invalid_scope")`, as the consent page would refuse it.
        """
        chosen = self.creator(creator)
        granted = list(scopes) if scopes is not None else self.config.approved_scopes
        self.accounts.check_scopes(granted)
        return self.accounts.grant(chosen, granted)

    def revoke_creator(self, creator: str, reason: int = 1) -> int:
        """The creator removes the app (or is banned...): tokens die, in-flight publishes fail."""
        chosen = self.creator(creator)
        grants = self.accounts.active_grants(chosen.open_id)
        for grant in grants:
            self.accounts.revoke_grant(grant)
        if grants:
            self.webhooks.emit("authorization.removed", chosen.open_id, {"reason": reason})
            self.progression.fail_in_flight(chosen.open_id, "auth_removed")
        return len(grants)

    def force_daily_cap(self, creator: str, reached: bool = True) -> None:
        self.creator(creator).daily_cap_forced = reached

    def ban_creator(self, creator: str, banned: bool = True) -> None:
        self.creator(creator).banned = banned

    def expire_token(self, access_token: str) -> bool:
        return self.accounts.expire_token(access_token)

    def lose_next_refresh_answer(self, count: int = 1) -> None:
        """The next `count` refreshes are handled (the token rotates) and their answer is lost."""
        self.faults.lose_next_refresh_answer(count)

    @property
    def refresh_attempts(self) -> list[RefreshAttempt]:
        """Every refresh request the token endpoint handled, oldest first."""
        return list(self.accounts.log.refreshes)

    @property
    def expired_token_uses(self) -> list[ExpiredTokenUse]:
        """Every bearer request refused because its access token had expired, oldest first."""
        return list(self.accounts.log.expired_uses)

    # -- publishes -------------------------------------------------------------------------

    def posts(self, open_id: str | None = None) -> list[dict[str, Any]]:
        """What TikTok received, oldest first (the `/_sandbox/posts` body)."""
        return [
            self.publishing.describe(p)
            for p in self.publishing.publishes.values()
            if open_id is None or p.open_id == open_id
        ]

    def publish(self, publish_id: str) -> Publish:
        return self.publishing.publishes[publish_id]

    def fail_next(self, fail_reason: str, creator: str | None = None) -> None:
        if fail_reason not in FAIL_REASONS:
            raise ValueError(f"unknown fail_reason {fail_reason!r}")
        open_id = self.creator(creator).open_id if creator else None
        self.faults.fail_next(fail_reason, open_id)

    async def advance(self, publish_id: str) -> str:
        return await self.progression.advance(self.publish(publish_id))

    async def complete(self, publish_id: str) -> list[str]:
        return await self.progression.complete(self.publish(publish_id))

    def post_draft(self, publish_id: str, privacy_level: str | None = None) -> int:
        return self.progression.post_draft(self.publish(publish_id), privacy_level)

    def take_down(self, publish_id: str) -> list[int]:
        return self.progression.take_down(self.publish(publish_id))
