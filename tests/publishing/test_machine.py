"""The state machine's two tables, checked move by move against the moves written out here:
changing ``states.py`` without changing this list fails a test."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.events import DomainEvent, take_pending
from zakipost.models import MediaKind, Post, PostEvent, PostMode
from zakipost.publishing import machine
from zakipost.publishing.states import PostStatus, PostStep

S = PostStatus
P = PostStep

STATUS_MOVES: dict[PostStatus, set[PostStatus]] = {
    S.scheduled: {S.queued, S.processing, S.cancelled, S.failed},
    S.queued: {S.processing, S.cancelled, S.failed, S.deferred, S.scheduled},
    S.deferred: {S.processing, S.cancelled, S.failed, S.queued, S.scheduled},
    S.processing: {S.deferred, S.published, S.in_inbox, S.failed, S.unknown},
    S.in_inbox: {S.published, S.failed},
    S.unknown: {S.published, S.in_inbox, S.failed},
    S.published: set(),
    S.failed: set(),
    S.cancelled: set(),
}

STEP_MOVES: dict[PostStep | None, set[PostStep | None]] = {
    None: {P.preflight, P.done},
    P.preflight: {P.fetching, P.done, None},
    P.fetching: {P.probing, P.initializing, P.done, None},
    P.probing: {P.initializing, P.done, None},
    P.initializing: {P.uploading, P.awaiting_tiktok, P.done, None},
    P.uploading: {P.final_chunk, P.initializing, P.done},
    P.final_chunk: {P.uploading, P.initializing, P.awaiting_tiktok, P.done},
    P.awaiting_tiktok: {P.done},
    P.done: set(),
}
STEPS: list[PostStep | None] = [None, *PostStep]
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _post(status: PostStatus, step: PostStep | None = None) -> Post:
    post = Post(id=uuid.uuid4(), publish_id="v_pub_0123456789abcdef", kind=MediaKind.video)
    post.post_mode = PostMode.direct
    machine.new_post_status(post, status, "born", now=NOW)
    post.step = step  # test setup: place the post on the step under test
    return post


def _status_cases(allowed: bool) -> list[tuple[PostStatus, PostStatus]]:
    return [
        (a, b)
        for a, b in itertools.product(PostStatus, PostStatus)
        if (b is a or b in STATUS_MOVES[a]) is allowed
    ]


def _step_cases(allowed: bool) -> list[tuple[PostStep | None, PostStep | None]]:
    return [
        (a, b)
        for a, b in itertools.product(STEPS, STEPS)
        if (b is a or b in STEP_MOVES[a]) is allowed
    ]


class TestTables:
    def test_every_status_and_step_has_a_row(self) -> None:
        assert set(STATUS_MOVES) == set(PostStatus)
        assert set(STEP_MOVES) == set(STEPS)


class TestStatusMoves:
    @pytest.mark.parametrize(("current", "target"), _status_cases(allowed=True))
    def test_allowed(self, current: PostStatus, target: PostStatus) -> None:
        session = AsyncSession()
        post = _post(current)
        event = machine.transition(session, post, target, "moved", now=NOW)
        assert post.status is target
        assert isinstance(event, PostEvent) and event in session.new
        assert (event.status, event.message, event.at) == (target.value, "moved", NOW)

    @pytest.mark.parametrize(("current", "target"), _status_cases(allowed=False))
    def test_refused(self, current: PostStatus, target: PostStatus) -> None:
        session = AsyncSession()
        post = _post(current)
        with pytest.raises(machine.IllegalTransition) as refused:
            machine.transition(session, post, target, "moved", now=NOW)
        assert (refused.value.current, refused.value.target) == (current, target)
        assert post.status is current and not session.new


class TestStepMoves:
    @pytest.mark.parametrize(("current", "target"), _step_cases(allowed=True))
    def test_allowed(self, current: PostStep | None, target: PostStep | None) -> None:
        session = AsyncSession()
        post = _post(PostStatus.processing, current)
        event = machine.transition(session, post, PostStatus.processing, "step", step=target)
        assert post.step is target
        assert event.step == (target.value if target else None)

    @pytest.mark.parametrize(("current", "target"), _step_cases(allowed=False))
    def test_refused(self, current: PostStep | None, target: PostStep | None) -> None:
        session = AsyncSession()
        post = _post(PostStatus.processing, current)
        with pytest.raises(machine.IllegalStepMove) as refused:
            machine.transition(session, post, PostStatus.processing, "step", step=target)
        assert (refused.value.current, refused.value.target) == (current, target)
        assert post.step is current and not session.new


class TestFinishTime:
    @pytest.mark.parametrize("target", [S.published, S.in_inbox, S.failed, S.unknown, S.deferred])
    def test_stamped_when_the_post_ends_or_reaches_the_inbox(self, target: PostStatus) -> None:
        post = _post(PostStatus.processing, PostStep.awaiting_tiktok)
        machine.transition(AsyncSession(), post, target, "end", step=PostStep.done, now=NOW)
        ends = target in (S.published, S.in_inbox, S.failed)
        assert post.finished_at == (NOW if ends else None)

    def test_kept_when_a_draft_is_published_later(self) -> None:
        post = _post(PostStatus.processing, PostStep.awaiting_tiktok)
        session = AsyncSession()
        machine.transition(session, post, S.in_inbox, "inbox", step=P.done, now=NOW)
        later = NOW + dt.timedelta(days=2)
        machine.transition(session, post, S.published, "posted", step=P.done, now=later)
        assert post.finished_at == NOW


class TestNote:
    def test_changes_nothing_and_records_a_line(self) -> None:
        session = AsyncSession()
        post = _post(PostStatus.processing, PostStep.uploading)
        event = machine.note(session, post, "Chunk 2 of 3 sent.", now=NOW)
        assert (post.status, post.step) == (S.processing, P.uploading)
        assert (event.status, event.step, event.message) == (
            "processing",
            "uploading",
            "Chunk 2 of 3 sent.",
        )


class TestDomainEvents:
    @pytest.mark.parametrize(("current", "target"), _status_cases(allowed=True))
    def test_entering_a_reported_status_records_its_event(
        self, current: PostStatus, target: PostStatus
    ) -> None:
        session = AsyncSession()
        post = _post(current)
        post.account_id = uuid.uuid4()
        machine.transition(session, post, target, "moved", now=NOW)
        recorded = take_pending(session.sync_session)
        if target is current or target not in machine.STATUS_EVENTS:
            assert recorded == []
        else:
            assert recorded == [
                DomainEvent(machine.STATUS_EVENTS[target], post.account_id, "post", post.id)
            ]

    def test_every_status_a_caller_waits_for_is_reported(self) -> None:
        reported = set(machine.STATUS_EVENTS)
        assert reported == {S.published, S.in_inbox, S.failed, S.unknown, S.cancelled, S.deferred}
