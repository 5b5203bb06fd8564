"""Post and connection repositories: tenant scoping, joined reads, keyset pages."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import create_account
from zakipost.config import Settings
from zakipost.connection.repository import ConnectionRepository
from zakipost.kit.crypto import Vault
from zakipost.models import Connection, MediaKind, Post, PostEvent, PostMode
from zakipost.post.repository import PostRepository
from zakipost.publishing.states import PostStatus

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


async def _world(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, vault: Vault
) -> dict[str, uuid.UUID]:
    """Two accounts, each with a connection; three posts for the first, one for the second."""
    first = await create_account(sessionmaker, settings, vault, email="a@example.com")
    second = await create_account(sessionmaker, settings, vault, email="b@example.com")
    ids: dict[str, uuid.UUID] = {"a": first.account.id, "b": second.account.id}
    async with sessionmaker() as session, session.begin():
        for name, account_id in (("a", first.account.id), ("b", second.account.id)):
            connection = Connection(id=uuid.uuid4(), account_id=account_id, open_id=f"open-{name}")
            session.add(connection)
            await session.flush()
            ids[f"conn_{name}"] = connection.id
            ids[f"token_{name}"] = connection.internal_token
        posts = [("a", 0, PostStatus.queued), ("a", 1, PostStatus.failed)]
        posts += [("a", 2, PostStatus.queued), ("b", 3, PostStatus.queued)]
        for owner, minute, status in posts:
            post = Post(
                id=uuid.uuid4(),
                publish_id=f"v_pub_{owner}{minute:015d}",
                account_id=ids[owner],
                connection_id=ids[f"conn_{owner}"],
                kind=MediaKind.video,
                post_mode=PostMode.direct,
                status=status,
                created_at=T0 + dt.timedelta(minutes=minute),
            )
            session.add(post)
            await session.flush()
            session.add(PostEvent(post_id=post.id, at=T0, status=status.value, message="one"))
            session.add(PostEvent(post_id=post.id, at=T0, status=status.value, message="two"))
    return ids


class TestPostRepository:
    async def test_page_joins_the_account_id_newest_first(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, vault: Vault
    ) -> None:
        ids = await _world(sessionmaker, settings, vault)
        async with sessionmaker() as session:
            rows = await PostRepository.from_session(session).page(ids["a"])
        assert [r.post.publish_id for r in rows] == [
            "v_pub_a000000000000002",
            "v_pub_a000000000000001",
            "v_pub_a000000000000000",
        ]
        assert {r.tiktok_account_id for r in rows} == {str(ids["token_a"])}

    async def test_page_filters_and_continues_after_a_cursor(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, vault: Vault
    ) -> None:
        ids = await _world(sessionmaker, settings, vault)
        async with sessionmaker() as session:
            repository = PostRepository.from_session(session)
            queued = await repository.page(ids["a"], status=PostStatus.queued)
            first = await repository.page(ids["a"], limit=1)
            after = await repository.page(
                ids["a"], before=(first[0].post.created_at, first[0].post.id)
            )
            other = await repository.page(ids["a"], connection_id=ids["conn_b"])
        assert [r.post.publish_id[-1] for r in queued] == ["2", "0"]
        assert [r.post.publish_id[-1] for r in after] == ["1", "0"]
        assert other == []

    async def test_reads_are_scoped_to_the_account(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, vault: Vault
    ) -> None:
        ids = await _world(sessionmaker, settings, vault)
        async with sessionmaker() as session:
            repository = PostRepository.from_session(session)
            mine = await repository.get_row(ids["b"], "v_pub_b000000000000003")
            theirs = await repository.get_row(ids["b"], "v_pub_a000000000000000")
            locked = await repository.get_by_publish_id(ids["a"], "v_pub_b000000000000003")
            assert mine is not None
            events = await repository.timeline(mine.post.id)
        assert mine.tiktok_account_id == str(ids["token_b"])
        assert theirs is None and locked is None
        assert [e.message for e in events] == ["one", "two"]


class TestConnectionRepository:
    async def test_connections_are_scoped_to_the_account(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, vault: Vault
    ) -> None:
        ids = await _world(sessionmaker, settings, vault)
        async with sessionmaker() as session:
            repository = ConnectionRepository.from_session(session)
            mine = await repository.get_for_account(ids["a"], ids["token_a"])
            theirs = await repository.get_for_account(ids["a"], ids["token_b"])
            listed = await repository.list_for_account(ids["b"])
            by_id = await repository.get(ids["conn_b"])
        assert mine is not None and mine.id == ids["conn_a"]
        assert theirs is None
        assert [c.id for c in listed] == [ids["conn_b"]]
        assert by_id is not None and by_id.open_id == "open-b"
