"""Publish status progression (api-facts.md §13): the only code that moves a publish's stage.

    FILE_UPLOAD:   UPLOADING --last chunk--> PROCESSING --> DONE | FAILED
    PULL_FROM_URL: DOWNLOADING --pulled----> PROCESSING --> DONE | FAILED
    DONE, direct:  PUBLISH_COMPLETE; a public post gets its id after moderation
    DONE, inbox:   SEND_TO_USER_INBOX --creator posts the draft--> PUBLISH_COMPLETE

`immediate` runs every step at once, `manual` waits for `advance()`, `time` schedules each
step on the clock (processing delay, then moderation delay).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import anyio

from .media import check_photo, check_video
from .models import PRIVACY_LEVELS, Post, Publish, Stage
from .pull import pull_media

if TYPE_CHECKING:
    from .state import Sandbox


class ProgressionError(Exception):
    """A control request that does not fit the publish's current stage."""


class Progression:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self._pulls: dict[str, asyncio.Task[None]] = {}
        self._last_ms = 0

    @property
    def mode(self) -> str:
        return self.sb.config.progression

    def _now(self) -> datetime:
        return self.sb.clock.now()

    def _due_in(self, seconds: float) -> datetime:
        self.sb.wake_at(seconds)
        return self._now() + timedelta(seconds=seconds)

    # -- entry points from the HTTP layer --------------------------------------------------------

    def on_created(self, p: Publish) -> None:
        if p.source == "PULL_FROM_URL" and self.mode != "manual":
            self._pulls[p.publish_id] = self.sb.spawn(self._pull_then_process(p))

    async def on_upload_complete(self, p: Publish) -> None:
        """The final chunk is on disk: check the media, then progress per mode."""
        await self._check_media(p)
        self._processing(p)

    def cancel(self, p: Publish) -> None:
        task = self._pulls.pop(p.publish_id, None)
        if task is not None:
            task.cancel()
        self.fail(p, "publish_cancelled")

    def fail_in_flight(self, open_id: str, reason: str) -> None:
        for p in self.sb.publishing.publishes.values():
            if p.open_id == open_id and not p.final:
                task = self._pulls.pop(p.publish_id, None)
                if task is not None:
                    task.cancel()
                self.fail(p, reason)

    # -- steps -----------------------------------------------------------------------------------

    async def _pull_then_process(self, p: Publish) -> None:
        await self._pull(p)
        self._pulls.pop(p.publish_id, None)
        if p.stage is Stage.PROCESSING:
            self._processing(p)

    async def _pull(self, p: Publish) -> None:
        p.download_started = True
        reason = await pull_media(self.sb, p)
        if p.stage is not Stage.DOWNLOADING:
            return  # cancelled or failed meanwhile
        if reason is not None:
            self.fail(p, reason)
            return
        await self._check_media(p)

    async def _check_media(self, p: Publish) -> None:
        p.stage = Stage.PROCESSING
        try:
            await self._run_checks(p)
        finally:
            if not self.sb.config.keep_media:
                for media in p.media:
                    media.kept = False
                    with contextlib.suppress(OSError):
                        os.remove(media.path)

    async def _run_checks(self, p: Publish) -> None:
        if not self.sb.config.media_checks:
            return
        config = self.sb.config
        creator = self.sb.accounts.creators.get(p.open_id)
        limit = float(config.max_video_duration_seconds)
        if creator is not None:
            limit = min(limit, float(creator.max_video_post_duration_sec))
        paths = [m.path for m in p.media]
        if p.media_type == "VIDEO":
            verdict, meta = await anyio.to_thread.run_sync(
                lambda: check_video(
                    paths[0], max_duration=limit, min_duration=config.min_video_duration_seconds
                )
            )
            p.verdict, p.video_meta = verdict, meta
        else:
            verdicts = await anyio.to_thread.run_sync(lambda: [check_photo(path) for path in paths])
            # One bad image fails the whole carousel; a format problem outranks a size one.
            for candidate in ("file_format_check_failed", "picture_size_check_failed"):
                if candidate in verdicts:
                    p.verdict = candidate
                    break

    def _processing(self, p: Publish) -> None:
        if p.stage is not Stage.PROCESSING:
            return
        if self.mode == "immediate":
            self._finish(p)
        elif self.mode == "time":
            size = sum(m.size for m in p.media)
            config = self.sb.config
            delay = config.processing_delay_seconds + config.processing_seconds_per_gb * size / (
                1 << 30
            )
            p.due_at = self._due_in(delay)

    def _finish(self, p: Publish) -> None:
        p.due_at = None
        reason = p.forced_fail_reason or p.verdict
        if reason:
            self.fail(p, reason)
            return
        p.stage = Stage.DONE
        if p.direct:
            self._emit(p, "post.publish.complete")
            self._add_post(p, str(p.post_info.get("privacy_level", "SELF_ONLY")))
        else:
            self._emit(p, "post.publish.inbox_delivered")
            autopost = self.sb.config.inbox_autopost_seconds
            if self.mode == "time" and autopost is not None:
                p.due_at = self._due_in(autopost)

    def fail(self, p: Publish, reason: str) -> None:
        p.stage = Stage.FAILED
        p.fail_reason = reason
        p.due_at = None
        self._emit(p, "post.publish.failed", reason=reason)

    def _add_post(self, p: Publish, privacy_level: str) -> Post:
        now = self._now()
        self._last_ms = max(int(now.timestamp() * 1000), self._last_ms + 1)
        post = Post(self.sb.ids.post_id(), privacy_level, now, self._last_ms)
        p.posts.append(post)
        if post.public:
            if self.mode == "immediate":
                self._moderate(p, post)
            elif self.mode == "time":
                post.due_at = self._due_in(self.sb.config.moderation_delay_seconds)
        else:
            post.moderated = True
        return post

    def _moderate(self, p: Publish, post: Post) -> None:
        post.moderated = True
        post.due_at = None
        if post.public:
            self._emit(p, "post.publish.publicly_available", post_id=str(post.post_id))

    def _emit(self, p: Publish, event: str, **extra: str) -> None:
        content: dict[str, str] = {"publish_id": p.publish_id, "publish_type": p.publish_type}
        content.update(extra)
        self.sb.webhooks.emit(event, p.open_id, content)

    # -- time ------------------------------------------------------------------------------------

    def tick(self) -> None:
        now = self._now()
        for p in list(self.sb.publishing.publishes.values()):
            if p.due_at is not None and p.due_at <= now:
                if p.stage is Stage.PROCESSING:
                    self._finish(p)
                elif p.stage is Stage.DONE and not p.direct:
                    p.due_at = None
                    self.post_draft(p, None)
            for post in p.posts:
                if post.due_at is not None and post.due_at <= now and not post.moderated:
                    self._moderate(p, post)

    # -- manual control --------------------------------------------------------------------------

    async def advance(self, p: Publish) -> str:
        """Take one step; returns what happened. Raises ProgressionError if none is possible."""
        if p.stage is Stage.UPLOADING:
            raise ProgressionError("waiting for the client to upload every chunk")
        if p.stage is Stage.DOWNLOADING:
            task = self._pulls.get(p.publish_id)
            if task is not None:
                await asyncio.shield(task)
                return "downloaded"
            await self._pull(p)
            return "failed" if p.final else "downloaded"
        if p.stage is Stage.PROCESSING:
            self._finish(p)
            return "processed"
        pending = [post for post in p.posts if not post.moderated]
        if pending:
            self._moderate(p, pending[0])
            return "moderated"
        raise ProgressionError(f"nothing to advance: status is {p.status}")

    async def complete(self, p: Publish) -> list[str]:
        """Advance until the publish rests (final, or a draft waiting in the inbox)."""
        steps: list[str] = []
        while True:
            try:
                steps.append(await self.advance(p))
            except ProgressionError:
                if not steps and p.stage is Stage.UPLOADING:
                    raise
                return steps

    def post_draft(self, p: Publish, privacy_level: str | None) -> int:
        """The creator opens the inbox notification and posts the draft (can repeat)."""
        if p.direct or p.stage is not Stage.DONE:
            raise ProgressionError(f"no draft in the inbox: status is {p.status}")
        creator = self.sb.accounts.creators.get(p.open_id)
        if privacy_level is None:
            privacy_level = (
                "SELF_ONLY" if creator is None or creator.is_private else "PUBLIC_TO_EVERYONE"
            )
        if privacy_level not in PRIVACY_LEVELS:
            raise ProgressionError(f"unknown privacy_level {privacy_level!r}")
        p.draft_posted = True
        p.due_at = None
        self._emit(p, "post.publish.complete")
        return self._add_post(p, privacy_level).post_id

    def take_down(self, p: Publish) -> list[int]:
        """Posts stop being public (moderation or the creator): `no_longer_…` fires."""
        event = (
            "post.publish.no_longer_publicaly_available"
            if self.sb.config.no_longer_available_spelling == "publicaly"
            else "post.publish.no_longer_publicly_available"
        )
        removed: list[int] = []
        for post in p.posts:
            if post.publicly_available:
                post.taken_down = True
                removed.append(post.post_id)
                self._emit(p, event, post_id=str(post.post_id))
        if not removed:
            raise ProgressionError("no publicly available post to take down")
        return removed
