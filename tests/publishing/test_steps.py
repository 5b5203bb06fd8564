"""The STEPS table the loop dispatches on: a function for every step a post can be at."""

from __future__ import annotations

from zakipost.models import MediaKind
from zakipost.publishing import outcome, photos, preflight, transfer, video
from zakipost.publishing.states import PostStep
from zakipost.publishing.steps import STEPS

P = PostStep


def test_a_video_has_a_function_for_every_step() -> None:
    assert {step: kinds[MediaKind.video] for step, kinds in STEPS.items()} == {
        P.preflight: preflight.preflight,
        P.fetching: video.fetch,
        P.probing: video.probe,
        P.initializing: transfer.initialize,
        P.uploading: transfer.upload,
        P.final_chunk: transfer.resume_final_chunk,
        P.awaiting_tiktok: outcome.await_tiktok,
        P.done: outcome.after_done,
    }


def test_a_carousel_is_prepared_and_pulled_never_uploaded() -> None:
    carousel = {
        step: kinds[MediaKind.photo] for step, kinds in STEPS.items() if MediaKind.photo in kinds
    }
    assert carousel == {
        P.preflight: preflight.preflight,
        P.fetching: photos.prepare,
        P.initializing: photos.initialize,
        P.awaiting_tiktok: outcome.await_tiktok,
        P.done: outcome.after_done,
    }
