"""classify(): every exception family a step can raise, before and after TikTok may have
the post, and the outcome it settles as."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from zakipost.connection.errors import ConnectionNotFound, ConnectionRevoked, ReconnectRequired
from zakipost.errors import ValidationFailed
from zakipost.media.errors import MediaFetchTimeout, MediaNotAVideo, MediaOriginError, MediaRejected
from zakipost.models import MediaKind, Post
from zakipost.publishing.classify import classify
from zakipost.publishing.failures import PostDeferred, PostFailure, PostUndetermined
from zakipost.publishing.machine import Deferral, Fail, Outcome, Retry, Undetermined
from zakipost.publishing.states import PostStep
from zakipost.tiktok import TikTokRequestError, TikTokServerError
from zakipost.worker import LeaseLost

UNTIL = dt.datetime(2026, 12, 1, 13, 0, tzinfo=dt.UTC)
BEFORE = [None, PostStep.preflight, PostStep.fetching, PostStep.initializing, PostStep.uploading]
AFTER = [PostStep.final_chunk, PostStep.awaiting_tiktok]


def _at(step: PostStep | None) -> Post:
    post = Post(id=uuid.uuid4(), publish_id="v_pub_0123456789abcdef", kind=MediaKind.video)
    post.step = step  # test setup: where the exception was raised
    return post


def _fail(code: str, message: str, **flags: object) -> Fail:
    return Fail(PostFailure(code, message, **flags))  # type: ignore[arg-type]


REFUSED = "TikTok refused the post: "
KEPT_FAILING = "after receiving the post; its outcome is not known yet."


def _cases() -> list[tuple[str, Exception, PostStep | None, Outcome]]:
    failure = PostFailure("media_lost", "gone", retryable=True)
    server = TikTokServerError("TikTok had a problem", code="internal_error")
    refused = TikTokRequestError("bad", code="invalid_params")
    cases: list[tuple[str, Exception, PostStep | None, Outcome]] = []
    for step in BEFORE + AFTER:
        cases += [
            ("post failure", failure, step, Fail(failure)),
            ("deferral", PostDeferred(UNTIL, "cap"), step, Deferral(UNTIL, "cap")),
            ("undetermined", PostUndetermined("who knows"), step, Undetermined("who knows")),
            (
                "reconnect",
                ReconnectRequired(),
                step,
                _fail("reconnect_required", ReconnectRequired().message),
            ),
            (
                "revoked",
                ConnectionRevoked(),
                step,
                _fail("tiktok_account_revoked", ConnectionRevoked().message),
            ),
            (
                "connection gone",
                ConnectionNotFound(),
                step,
                _fail("tiktok_account_not_found", ConnectionNotFound().message),
            ),
            (
                "media rejected",
                MediaRejected("Too long.", fail_reason="duration_check_failed"),
                step,
                _fail(
                    "video_rejected",
                    "Too long.",
                    caller_error=True,
                    fail_reason="duration_check_failed",
                ),
            ),
            (
                "media timeout",
                MediaFetchTimeout("slow"),
                step,
                Retry(
                    "media_fetch_timeout",
                    give_up=_fail("media_fetch_timeout", "slow", retryable=True),
                ),
            ),
            (
                "media origin 503",
                MediaOriginError("down", http_status=503),
                step,
                Retry(
                    "media_origin_error",
                    give_up=_fail("media_origin_error", "down", retryable=True),
                ),
            ),
            (
                "media origin 404",
                MediaOriginError("missing", http_status=404),
                step,
                _fail("media_origin_error", "missing", caller_error=True),
            ),
            (
                "not a video",
                MediaNotAVideo("a web page"),
                step,
                _fail("media_not_a_video", "a web page", caller_error=True),
            ),
            (
                "other app error",
                ValidationFailed("nope"),
                step,
                _fail("validation_error", "nope", caller_error=True),
            ),
        ]
    for step in BEFORE:
        cases += [
            (
                "tiktok retryable, before",
                server,
                step,
                Retry(
                    "TikTok internal_error",
                    give_up=_fail(
                        "internal_error", REFUSED + "TikTok had a problem", retryable=True
                    ),
                ),
            ),
            (
                "tiktok refusal, before",
                refused,
                step,
                _fail("invalid_params", REFUSED + "bad"),
            ),
        ]
    for step in AFTER:
        cases += [
            (
                "tiktok retryable, after",
                server,
                step,
                Retry(
                    "TikTok internal_error",
                    give_up=Undetermined(f"TikTok kept failing (internal_error) {KEPT_FAILING}"),
                ),
            ),
            (
                "tiktok refusal, after",
                refused,
                step,
                Undetermined(f"TikTok kept failing (invalid_params) {KEPT_FAILING}"),
            ),
        ]
    return cases


@pytest.mark.parametrize(
    ("exc", "step", "expected"),
    [pytest.param(e, s, o, id=f"{name} @ {s}") for name, e, s, o in _cases()],
)
def test_outcome(exc: Exception, step: PostStep | None, expected: Outcome) -> None:
    assert classify(exc, _at(step)) == expected


@pytest.mark.parametrize("exc", [LeaseLost("gone"), RuntimeError("bug"), OSError("disk")])
def test_what_is_not_the_posts_is_left_to_the_job(exc: Exception) -> None:
    assert classify(exc, _at(PostStep.uploading)) is None


def test_an_empty_tiktok_message_names_the_code() -> None:
    error = TikTokRequestError(code="invalid_params")
    error.message = ""
    assert classify(error, _at(PostStep.initializing)) == _fail(
        "invalid_params", REFUSED + "invalid_params"
    )
