"""The step table: which function takes a post from the step it is at, by media kind.

Each step records what it is about to do before doing it, does its I/O outside any
transaction, then records what it learnt (``machine.advance``). A step returns True when
the post has reached an end this job can do nothing more for; the loop in ``tasks`` calls
the next step otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from zakipost import metrics
from zakipost.logging import get_logger
from zakipost.models import MediaKind, Post
from zakipost.publishing import outcome, photos, preflight, transfer, video
from zakipost.publishing.run import PostRun
from zakipost.publishing.states import PostStep

Step = Callable[[PostRun, Post], Awaitable[bool | None]]

log = get_logger(__name__)


def _both(step: Step) -> dict[MediaKind, Step]:
    return {MediaKind.video: step, MediaKind.photo: step}


STEPS: dict[PostStep, dict[MediaKind, Step]] = {
    PostStep.preflight: _both(preflight.preflight),
    PostStep.fetching: {MediaKind.video: video.fetch, MediaKind.photo: photos.prepare},
    PostStep.probing: {MediaKind.video: video.probe},
    PostStep.initializing: {
        MediaKind.video: transfer.initialize,
        MediaKind.photo: photos.initialize,
    },
    PostStep.uploading: {MediaKind.video: transfer.upload},
    PostStep.final_chunk: {MediaKind.video: transfer.resume_final_chunk},
    PostStep.awaiting_tiktok: _both(outcome.await_tiktok),
    PostStep.done: _both(outcome.after_done),
}


async def take(run: PostRun, post: Post) -> bool:
    """Take the step ``post`` is at; True when it reached an end. Each step leaves a log
    line and its duration (``zakipost_post_step_duration_seconds``), whether it completed,
    waits (a deferral) or raised."""
    at = post.step or PostStep.preflight
    step = STEPS[at][post.kind]
    log.info("post.step", step=at.value, status=post.status.value)
    # Durations are measured on the monotonic clock: they are observations, not decisions.
    started = time.perf_counter()
    try:
        return bool(await step(run, post))
    finally:
        metrics.step_finished(at.value, post.kind.value, time.perf_counter() - started)
