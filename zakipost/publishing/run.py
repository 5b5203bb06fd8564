"""One job's run of one post: its lease, the pipeline's dependencies and the post's id.

Steps read the post with :meth:`PostRun.load` and write it only with :meth:`PostRun.write`,
which is fenced by the job's lease: a worker that lost the job cannot overwrite what the
new holder wrote. Network I/O happens between those calls, never inside a transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.connection.tokens import TokenSnapshot
from zakipost.models import Post
from zakipost.publishing import budget
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.failures import PostDeferred, PostFailure
from zakipost.publishing.states import TERMINAL
from zakipost.tiktok import TikTokRateLimited
from zakipost.worker import JobContext

T = TypeVar("T")
Change = Callable[[AsyncSession, Post], Any]
SyncChange = Callable[[AsyncSession, Post], None]

# The post's row as a fenced write locks it, built once (PostgreSQL: FOR UPDATE, which
# SQLite does not render: its transaction already holds the write lock).
_LOCK_POST = select(Post).where(Post.id == bindparam("post_id")).with_for_update()


class PostRun:
    """The run context every step receives."""

    def __init__(self, ctx: JobContext, deps: PipelineDeps, post_id: uuid.UUID) -> None:
        self.ctx = ctx
        self.deps = deps
        self.post_id = post_id
        # The post as this run's last write committed it. While the job holds its lease
        # nothing else writes a processing post, so reading it back would only cost a
        # transaction per step; a failed write forgets it, and the next load reads.
        self._written: Post | None = None

    def now(self) -> dt.datetime:
        return self.deps.clock()

    async def load(self) -> Post:
        """The post as committed now (a plain read, no lock), or as this run's last write
        committed it."""
        if self._written is not None:
            return self._written
        async with self.deps.read_session() as session:
            post = await session.get(Post, self.post_id)
        if post is None:
            raise PostFailure("post_missing", "The post no longer exists.")
        return post

    async def write(self, change: Change, *, ends_job: bool = False) -> Any:
        """Apply ``change`` (plain or async) to the locked post in a transaction fenced by
        this job's lease; returns what ``change`` returned.

        ``ends_job``: the job returns right after this write, whose post is then final;
        the job is completed (with the post's status) in the same transaction."""
        self._written = None
        async with self.ctx.fenced() as session:
            post = (
                await session.execute(_LOCK_POST, {"post_id": self.post_id})
            ).scalar_one_or_none()
            if post is None:
                raise PostFailure("post_missing", "The post no longer exists.")
            result = change(session, post)
            if asyncio.iscoroutine(result):
                result = await result
            if ends_job and post.status in TERMINAL:
                await self.ctx.complete_in(session, post.status.value)
        self._written = post
        return result

    @asynccontextmanager
    async def unfenced(self) -> AsyncIterator[AsyncSession]:
        """A short transaction for rows no job owns (the connection, budgets)."""
        async with self.deps.sessionmaker() as session, session.begin():
            yield session

    async def spend_in(
        self, session: AsyncSession, connection_id: uuid.UUID, family: budget.Family
    ) -> PostDeferred | None:
        """Take one request from a TikTok budget in ``session``'s transaction; the deferral
        to raise once the transaction has ended (nothing spent) when the budget is full."""
        limit = budget.limit_of(self.deps.settings.publishing, family)
        free_at = await budget.reserve(session, connection_id, family, limit, self.now())
        if free_at is None:
            return None
        return PostDeferred(free_at, f"TikTok allows {limit} {family} requests a minute")

    async def ready(
        self, session: AsyncSession, connection_id: uuid.UUID, family: budget.Family | None
    ) -> TokenSnapshot | PostDeferred:
        """Make a TikTok call ready in ``session``'s transaction: spend from ``family`` and
        read the token; or the deferral to raise once it has ended, when the budget is
        full (then nothing is spent and the token is not read)."""
        if family is not None:
            waiting = await self.spend_in(session, connection_id, family)
            if waiting is not None:
                return waiting
        return await self.deps.tokens.snapshot(session, connection_id)

    async def tiktok(
        self,
        post: Post,
        family: budget.Family | None,
        call: Callable[[str], Awaitable[T]],
        *,
        token: TokenSnapshot | None = None,
    ) -> T:
        """Call TikTok with the connection's token, after spending from ``family``.

        ``token``: the call was made ready (:meth:`ready`) in a transaction that has
        ended, which spent the budget; otherwise one short transaction does both (or, with
        no ``family``, a read)."""
        assert token is None or family is None, "a ready call has spent its budget"
        # Nothing to spend (family None): the vault reads the token in a read session.
        if token is None and family is not None:
            async with self.unfenced() as session:
                ready = await self.ready(session, post.connection_id, family)
            if isinstance(ready, PostDeferred):
                raise ready
            token = ready
        try:
            return await self.deps.tokens.call(post.connection_id, call, snapshot=token)
        except TikTokRateLimited:
            backoff = dt.timedelta(
                seconds=self.deps.settings.publishing.rate_limited_backoff_seconds
            )
            raise PostDeferred(self.now() + backoff, "TikTok asked us to slow down") from None
