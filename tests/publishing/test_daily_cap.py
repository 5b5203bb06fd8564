"""The creator's rolling 24-hour window on a movable clock: reserve up to the cap, refuse
the next, free a slot 24 hours after the oldest, learn a lower cap, pending drafts."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.models import Account, Connection, MediaKind, Post, PostMode
from zakipost.publishing import daily_cap, machine
from zakipost.publishing.states import PostStatus, PostStep

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
Maker = async_sessionmaker[AsyncSession]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self.now += delta
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def connection(sessionmaker: Maker) -> Connection:
    async with sessionmaker() as session, session.begin():
        account = Account(
            id=uuid.uuid4(),
            email="cap@example.com",
            password_hash="x",
            client_key=f"ck_{uuid.uuid4().hex}",
            client_secret_hash="h",
            client_secret_encrypted="e",
        )
        row = Connection(id=uuid.uuid4(), account_id=account.id, open_id="creator")
        session.add_all([account, row])
    return row


async def _post(
    sessionmaker: Maker,
    connection: Connection,
    *,
    mode: PostMode = PostMode.direct,
    created_at: dt.datetime = T0,
    path: tuple[PostStatus, ...] = (PostStatus.processing,),
    publish_id: str | None = None,
) -> Post:
    """A post driven through ``path`` by the machine, as the pipeline would."""
    post = Post(
        id=uuid.uuid4(),
        publish_id=f"v_pub_{uuid.uuid4().hex[:16]}",
        account_id=connection.account_id,
        connection_id=connection.id,
        kind=MediaKind.video,
        post_mode=mode,
        created_at=created_at,
        tiktok_publish_id=publish_id,
    )
    async with sessionmaker() as session, session.begin():
        session.add(post)
        session.add(machine.new_post_status(post, PostStatus.queued, "Accepted.", now=created_at))
        for status in path:
            step: PostStep | None = {
                PostStatus.processing: PostStep.preflight,
                PostStatus.cancelled: None,
            }.get(status, PostStep.done)
            machine.transition(session, post, status, status.value, step=step, now=created_at)
    return post


async def _reserve(sessionmaker: Maker, post: Post, now: dt.datetime) -> daily_cap.Window | None:
    async with sessionmaker() as session, session.begin():
        row = await session.get(Post, post.id, with_for_update=True)
        assert row is not None
        return await daily_cap.reserve(session, row, now)


async def _submitted_at(sessionmaker: Maker, post: Post) -> dt.datetime | None:
    async with sessionmaker() as session:
        row = await session.get(Post, post.id)
        assert row is not None
        return row.submitted_at


async def _set_cap(sessionmaker: Maker, connection: Connection, cap: int) -> None:
    async with sessionmaker() as session, session.begin():
        row = await session.get(Connection, connection.id)
        assert row is not None
        row.daily_post_cap = cap


async def _state(
    sessionmaker: Maker, connection: Connection, now: dt.datetime
) -> daily_cap.CapState:
    async with sessionmaker() as session:
        row = await session.get(Connection, connection.id)
        assert row is not None
        return await daily_cap.state(session, row, now)


class TestReserve:
    async def test_up_to_the_cap_then_the_next_is_refused(
        self, sessionmaker: Maker, connection: Connection, clock: Clock
    ) -> None:
        await _set_cap(sessionmaker, connection, 3)
        posts = [await _post(sessionmaker, connection) for _ in range(4)]
        for post in posts[:3]:
            assert await _reserve(sessionmaker, post, clock.now) is None
            assert await _submitted_at(sessionmaker, post) == clock.now
            clock.advance(HOUR)

        refused = await _reserve(sessionmaker, posts[3], clock.now)
        assert refused is not None and refused.full
        assert refused.cap == 3
        assert refused.submitted == (T0, T0 + HOUR, T0 + 2 * HOUR)
        assert refused.next_free_slot() == T0 + daily_cap.DAY
        assert await _submitted_at(sessionmaker, posts[3]) is None

    async def test_a_slot_frees_24_hours_after_the_oldest(
        self, sessionmaker: Maker, connection: Connection, clock: Clock
    ) -> None:
        await _set_cap(sessionmaker, connection, 1)
        first, second = [await _post(sessionmaker, connection) for _ in range(2)]
        assert await _reserve(sessionmaker, first, clock.now) is None

        almost = T0 + daily_cap.DAY - dt.timedelta(seconds=1)
        assert await _reserve(sessionmaker, second, almost) is not None
        assert await _reserve(sessionmaker, second, T0 + daily_cap.DAY) is None
        assert await _submitted_at(sessionmaker, second) == T0 + daily_cap.DAY

    async def test_a_post_keeps_its_slot_when_it_reserves_again(
        self, sessionmaker: Maker, connection: Connection, clock: Clock
    ) -> None:
        await _set_cap(sessionmaker, connection, 1)
        post = await _post(sessionmaker, connection)
        assert await _reserve(sessionmaker, post, clock.now) is None
        # A retry after a crash: its own slot does not count against it, nor move.
        assert await _reserve(sessionmaker, post, clock.advance(HOUR)) is None
        assert await _submitted_at(sessionmaker, post) == T0

    async def test_drafts_take_no_slot(
        self, sessionmaker: Maker, connection: Connection, clock: Clock
    ) -> None:
        await _set_cap(sessionmaker, connection, 1)
        draft = await _post(sessionmaker, connection, mode=PostMode.draft)
        assert await _reserve(sessionmaker, draft, clock.now) is None
        assert await _submitted_at(sessionmaker, draft) is None

    async def test_the_window_the_first_post_sees_is_empty(
        self, sessionmaker: Maker, connection: Connection, clock: Clock
    ) -> None:
        post = await _post(sessionmaker, connection)
        async with sessionmaker() as session:
            seen = await daily_cap.window(session, post, clock.now)
        assert (seen.cap, seen.submitted, seen.full) == (15, (), False)
        # TikTok may still refuse (other apps post too): try again in an hour.
        assert seen.next_free_slot() == T0 + daily_cap.UNSEEN_SLOT_WAIT


class TestReleaseAndSubmit:
    async def test_a_post_tiktok_never_had_gives_its_slot_back(
        self, sessionmaker: Maker, connection: Connection, clock: Clock
    ) -> None:
        never_sent = await _post(sessionmaker, connection)
        sent = await _post(sessionmaker, connection, publish_id="p_123")
        for post in (never_sent, sent):
            assert await _reserve(sessionmaker, post, clock.now) is None
            async with sessionmaker() as session, session.begin():
                row = await session.get(Post, post.id)
                assert row is not None
                daily_cap.release(row)
        assert await _submitted_at(sessionmaker, never_sent) is None
        assert await _submitted_at(sessionmaker, sent) == T0

    async def test_the_slot_starts_when_tiktok_gets_the_post(
        self, sessionmaker: Maker, connection: Connection, clock: Clock
    ) -> None:
        post = await _post(sessionmaker, connection)
        assert await _reserve(sessionmaker, post, clock.now) is None
        async with sessionmaker() as session, session.begin():
            row = await session.get(Post, post.id)
            assert row is not None
            daily_cap.mark_submitted(row, clock.advance(10 * HOUR))
        assert await _submitted_at(sessionmaker, post) == T0 + 10 * HOUR


class TestLearn:
    async def _learn(
        self, sessionmaker: Maker, connection: Connection, sent: int, cap: int = 15
    ) -> int:
        """Submit ``sent`` posts, know the cap as ``cap``, then hear TikTok refuse one more."""
        posts = [await _post(sessionmaker, connection) for _ in range(sent + 1)]
        for index, post in enumerate(posts[:-1]):
            assert await _reserve(sessionmaker, post, T0 + index * HOUR) is None
        await _set_cap(sessionmaker, connection, cap)
        async with sessionmaker() as session, session.begin():
            await daily_cap.learn(session, posts[-1], T0 + sent * HOUR)
        async with sessionmaker() as session:
            row = await session.get(Connection, connection.id)
            assert row is not None
            return row.daily_post_cap

    async def test_a_lower_cap_is_learnt_from_tiktoks_refusal(
        self, sessionmaker: Maker, connection: Connection
    ) -> None:
        assert await self._learn(sessionmaker, connection, 4) == 4

    async def test_the_cap_never_drops_to_zero(
        self, sessionmaker: Maker, connection: Connection
    ) -> None:
        # Other apps used the creator's posts: ZakiPost saw none of them.
        assert await self._learn(sessionmaker, connection, 0) == 15

    async def test_the_cap_never_grows(self, sessionmaker: Maker, connection: Connection) -> None:
        assert await self._learn(sessionmaker, connection, 3, cap=2) == 2


class TestState:
    async def test_counts_direct_posts_and_says_when_a_slot_frees(
        self, sessionmaker: Maker, connection: Connection, clock: Clock
    ) -> None:
        await _set_cap(sessionmaker, connection, 2)
        first, second = [await _post(sessionmaker, connection) for _ in range(2)]
        await _post(sessionmaker, connection, mode=PostMode.draft)
        assert await _reserve(sessionmaker, first, clock.now) is None
        state = await _state(sessionmaker, connection, clock.advance(HOUR))
        assert (state.posts_last_24h, state.next_free_slot_at, state.pending_drafts) == (
            1,
            None,
            1,
        )

        assert await _reserve(sessionmaker, second, clock.now) is None
        state = await _state(sessionmaker, connection, clock.now)
        assert state.daily_post_cap == 2 and state.posts_last_24h == 2
        assert state.next_free_slot_at == T0 + daily_cap.DAY
        assert state.pending_drafts_limit == daily_cap.PENDING_DRAFTS_LIMIT

        state = await _state(sessionmaker, connection, T0 + daily_cap.DAY)
        assert state.posts_last_24h == 1 and state.next_free_slot_at is None


class TestPendingDrafts:
    async def test_the_sixth_draft_in_24_hours_is_refused(
        self, sessionmaker: Maker, connection: Connection, clock: Clock
    ) -> None:
        for minute in range(5):
            await _post(
                sessionmaker,
                connection,
                mode=PostMode.draft,
                created_at=T0 + dt.timedelta(minutes=minute),
            )
        async with sessionmaker() as session:
            with pytest.raises(daily_cap.TooManyPendingDrafts) as refused:
                await daily_cap.check_pending_drafts(session, connection.id, clock.advance(HOUR))
        assert refused.value.status_code == 429
        assert refused.value.message == (
            "TikTok accepts at most 5 drafts waiting in a creator's inbox within 24 hours; "
            "this account has 5. The creator can post or delete drafts in the TikTok app; "
            "the next slot frees at 2026-12-02 12:00 UTC."
        )
        assert refused.value.details == {
            "pending_drafts": 5,
            "next_slot_at": (T0 + daily_cap.DAY).isoformat(),
        }
        async with sessionmaker() as session:
            await daily_cap.check_pending_drafts(session, connection.id, T0 + daily_cap.DAY)

    async def test_what_does_not_wait_in_the_inbox_does_not_count(
        self, sessionmaker: Maker, connection: Connection, clock: Clock
    ) -> None:
        draft = PostMode.draft
        for _ in range(4):
            await _post(sessionmaker, connection, mode=draft)
        await _post(sessionmaker, connection, mode=draft, path=(PostStatus.cancelled,))
        await _post(
            sessionmaker, connection, mode=draft, path=(PostStatus.processing, PostStatus.failed)
        )
        await _post(
            sessionmaker,
            connection,
            mode=draft,
            path=(PostStatus.processing, PostStatus.in_inbox, PostStatus.published),
        )
        await _post(sessionmaker, connection, mode=draft, created_at=T0 - daily_cap.DAY)
        await _post(sessionmaker, connection)  # a direct post
        async with sessionmaker() as session:
            await daily_cap.check_pending_drafts(session, connection.id, clock.now)

        # A draft that failed after TikTok had it may still sit in the inbox.
        await _post(
            sessionmaker,
            connection,
            mode=draft,
            path=(PostStatus.processing, PostStatus.failed),
            publish_id="p_456",
        )
        async with sessionmaker() as session:
            with pytest.raises(daily_cap.TooManyPendingDrafts):
                await daily_cap.check_pending_drafts(session, connection.id, clock.now)
