from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import zakipost.models  # noqa: F401
from zakipost.db import migrate
from zakipost.db.base import Base
from zakipost.models import Post


class TestHeads:
    def test_single_head(self) -> None:
        assert len(migrate.heads()) == 1


class TestUpgrade:
    async def test_schema_equals_models(self, scratch_engine: AsyncEngine) -> None:
        await migrate.upgrade(scratch_engine)

        def diff(sync_conn):  # type: ignore[no-untyped-def]
            context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)

        async with scratch_engine.connect() as conn:
            differences = await conn.run_sync(diff)
        assert differences == []

    async def test_downgrade_to_base_and_up_again(self, scratch_engine: AsyncEngine) -> None:
        await migrate.upgrade(scratch_engine)
        await migrate.downgrade(scratch_engine, "base")

        async with scratch_engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert set(tables) <= {"alembic_version"}

        await migrate.upgrade(scratch_engine)
        async with scratch_engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert set(Base.metadata.tables) <= set(tables)


class TestEngineFixture:
    async def test_tables_exist_and_start_empty(self, engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert "accounts" in tables


# The posts table as the revisions before 0006 left it, as far as these tests touch it.
_accounts = sa.table(
    "accounts",
    *(sa.column(name) for name in ("email", "password_hash", "plan", "client_key")),
    sa.column("client_secret_hash"),
    sa.column("client_secret_encrypted"),
    sa.column("is_admin", sa.Boolean()),
    sa.column("id", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_connections = sa.table(
    "connections",
    sa.column("account_id", sa.Uuid()),
    sa.column("internal_token", sa.Uuid()),
    sa.column("open_id"),
    sa.column("status"),
    sa.column("scopes", sa.JSON()),
    sa.column("token_generation", sa.Integer()),
    sa.column("daily_post_cap", sa.Integer()),
    sa.column("id", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_POST_COLUMNS: tuple[sa.ColumnClause[Any], ...] = (
    sa.column("publish_id"),
    sa.column("account_id", sa.Uuid()),
    sa.column("connection_id", sa.Uuid()),
    sa.column("kind"),
    sa.column("post_mode"),
    sa.column("status"),
    sa.column("step"),
    sa.column("brand_content_toggle", sa.Boolean()),
    sa.column("brand_organic_toggle", sa.Boolean()),
    sa.column("is_aigc", sa.Boolean()),
    sa.column("cost_points", sa.Integer()),
    sa.column("uploaded_bytes", sa.BigInteger()),
    sa.column("tiktok_post_ids", sa.JSON()),
    sa.column("status_checks", sa.Integer()),
    sa.column("id", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_old_posts = sa.table("posts", *_POST_COLUMNS, sa.column("options", sa.JSON()))
_post_events = sa.table(
    "post_events",
    sa.column("post_id", sa.Uuid()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("status"),
    sa.column("message"),
)
_new_posts = sa.table(
    "posts",
    sa.column("id", sa.Uuid()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("request", sa.JSON()),
    sa.column("plan", sa.JSON()),
    sa.column("prepared_photos", sa.JSON()),
    sa.column("init_attempted_at", sa.DateTime(timezone=True)),
    sa.column("media_path_owned", sa.Boolean()),
    sa.column("step_failures", sa.Integer()),
)

EXPAND = "posts_pipeline_state_expand"
BACKFILL = "posts_pipeline_state_backfill"
_PREPARED = {
    "prepared_key": "ab12.jpg",
    "public_url": "https://media.example.com/media/ab12.jpg",
    "width": 1080,
    "height": 1350,
    "size": 12345,
    "sha256": "f" * 64,
}
# A carousel stopped right after its init was sent: TikTok may have it.
PHOTO_OPTIONS = {
    "on_daily_cap": "fail",
    "photos": [{"url": "https://img.example.com/1.jpg", **_PREPARED}, {"media_key": "up.png"}],
    "photo_cover_index": 1,
    "auto_add_music": True,
    "privacy_level": "PUBLIC_TO_EVERYONE",
    "disable_comment": True,
    "max_video_post_duration_sec": 600,
    "creator_nickname": "Ann",
    "init_attempted": True,
    "step_failures": 2,
}
# An uploaded video used in place from the store, its upload retried once.
VIDEO_OPTIONS = {
    "on_daily_cap": "defer",
    "media_key": "clip.mp4",
    "privacy_level": "SELF_ONLY",
    "disable_comment": False,
    "disable_duet": True,
    "disable_stitch": False,
    "max_video_post_duration_sec": 300,
    "creator_nickname": "Bo",
    "media_path_owned": False,
    "step_failures": 1,
}


def _revision(slug: str) -> Script:
    """One of the posts revisions by its file name, so renumbering them needs no edit here."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions()
    [script] = [s for s in scripts if s.path.endswith(f"_{slug}.py")]
    return script


def _revision_before(slug: str) -> str:
    down = _revision(slug).down_revision
    assert isinstance(down, str)
    return down


async def _in_flight_posts(engine: AsyncEngine) -> dict[str, uuid.UUID]:
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    account_id, connection_id = uuid.uuid4(), uuid.uuid4()
    ids = {"photo": uuid.uuid4(), "video": uuid.uuid4()}
    async with engine.begin() as conn:
        await conn.execute(
            _accounts.insert().values(
                email="a@example.com",
                password_hash="x",
                plan="free",
                client_key="ck",
                client_secret_hash="h",
                client_secret_encrypted="e",
                is_admin=False,
                id=account_id,
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            _connections.insert().values(
                account_id=account_id,
                internal_token=uuid.uuid4(),
                open_id="open",
                status="active",
                scopes=["video.publish"],
                token_generation=0,
                daily_post_cap=15,
                id=connection_id,
                created_at=now,
                updated_at=now,
            )
        )
        for kind, options, step in (
            ("photo", PHOTO_OPTIONS, "initializing"),
            ("video", VIDEO_OPTIONS, "uploading"),
        ):
            await conn.execute(
                _old_posts.insert().values(
                    publish_id=f"{kind[0]}_pub_0123456789abcdef",
                    account_id=account_id,
                    connection_id=connection_id,
                    kind=kind,
                    post_mode="direct",
                    status="processing",
                    step=step,
                    brand_content_toggle=False,
                    brand_organic_toggle=False,
                    is_aigc=False,
                    cost_points=1,
                    uploaded_bytes=0,
                    tiktok_post_ids=[],
                    status_checks=0,
                    id=ids[kind],
                    created_at=now,
                    updated_at=now,
                    options=options,
                )
            )
            await conn.execute(
                _post_events.insert().values(
                    post_id=ids[kind], at=now, status="processing", message="in flight"
                )
            )
    return ids


async def _timeline_lines(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(_post_events)) or 0)


async def _row(engine: AsyncEngine, table: sa.TableClause, post_id: uuid.UUID) -> sa.Row[Any]:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(table).where(table.c.id == post_id))).one()


class TestPostsPipelineState:
    """Expand, backfill and contract move ``posts.options`` into named places without losing a post in flight."""

    async def test_upgrade_puts_every_value_in_its_place(self, scratch_engine: AsyncEngine) -> None:
        await migrate.upgrade(scratch_engine, _revision_before(EXPAND))
        ids = await _in_flight_posts(scratch_engine)
        await migrate.upgrade(scratch_engine)

        photo = await _row(scratch_engine, _new_posts, ids["photo"])
        assert photo.request == {
            "on_daily_cap": "fail",
            "media_key": None,
            "photos": [
                {"url": "https://img.example.com/1.jpg", "media_key": None},
                {"url": None, "media_key": "up.png"},
            ],
            "photo_cover_index": 1,
            "auto_add_music": True,
        }
        assert photo.plan == {
            "privacy_level": "PUBLIC_TO_EVERYONE",
            "disable_comment": True,
            "max_video_post_duration_sec": 600,
            "creator_nickname": "Ann",
        }
        assert photo.prepared_photos == [_PREPARED]
        assert photo.init_attempted_at is not None
        assert photo.init_attempted_at == photo.updated_at
        assert photo.media_path_owned is True
        assert photo.step_failures == 2

        video = await _row(scratch_engine, _new_posts, ids["video"])
        assert video.request["media_key"] == "clip.mp4"
        assert video.request["on_daily_cap"] == "defer"
        assert video.plan == {
            k: VIDEO_OPTIONS[k]
            for k in (
                "privacy_level",
                "disable_comment",
                "disable_duet",
                "disable_stitch",
                "max_video_post_duration_sec",
                "creator_nickname",
            )
        }
        assert video.prepared_photos == []
        assert video.init_attempted_at is None
        assert video.media_path_owned is False
        assert video.step_failures == 1

        async with scratch_engine.connect() as conn:
            columns = await conn.run_sync(lambda c: inspect(c).get_columns("posts"))
        assert "options" not in {c["name"] for c in columns}

    async def test_a_post_written_by_old_code_after_the_backfill_is_copied_too(
        self, scratch_engine: AsyncEngine
    ) -> None:
        await migrate.upgrade(scratch_engine, _revision(BACKFILL).revision)
        ids = await _in_flight_posts(scratch_engine)
        await migrate.upgrade(scratch_engine)
        video = await _row(scratch_engine, _new_posts, ids["video"])
        assert video.request["media_key"] == "clip.mp4"
        assert video.media_path_owned is False
        assert video.step_failures == 1

    async def test_the_typed_columns_read_back_as_models(self, scratch_engine: AsyncEngine) -> None:
        await migrate.upgrade(scratch_engine, _revision_before(EXPAND))
        ids = await _in_flight_posts(scratch_engine)
        await migrate.upgrade(scratch_engine)
        async with AsyncSession(scratch_engine) as session:
            photo = await session.get(Post, ids["photo"])
        assert photo is not None
        assert photo.request.photos[1].media_key == "up.png"
        assert photo.prepared_photos[0].public_url == _PREPARED["public_url"]
        assert photo.plan is not None and photo.plan.creator_nickname == "Ann"

    async def test_downgrade_puts_them_back_into_options(self, scratch_engine: AsyncEngine) -> None:
        before = _revision_before(EXPAND)
        await migrate.upgrade(scratch_engine, before)
        ids = await _in_flight_posts(scratch_engine)
        await migrate.upgrade(scratch_engine)
        await migrate.downgrade(scratch_engine, before)

        assert (await _row(scratch_engine, _old_posts, ids["photo"])).options == PHOTO_OPTIONS
        assert (await _row(scratch_engine, _old_posts, ids["video"])).options == VIDEO_OPTIONS
        async with scratch_engine.connect() as conn:
            columns = await conn.run_sync(lambda c: inspect(c).get_columns("posts"))
        names = {c["name"] for c in columns}
        assert "options" in names and not names & {"request", "plan", "step_failures"}

    async def test_rebuilt_tables_keep_their_children(self, scratch_engine: AsyncEngine) -> None:
        # SQLite's batch mode rebuilds posts and connections (copy, drop, rename); with foreign
        # keys on, the drop cascaded and deleted every timeline (and, for connections, every
        # post). Both directions must keep them.
        before = _revision_before(EXPAND)
        await migrate.upgrade(scratch_engine, before)
        await _in_flight_posts(scratch_engine)
        await migrate.upgrade(scratch_engine)
        assert await _timeline_lines(scratch_engine) == 2
        await migrate.downgrade(scratch_engine, before)
        assert await _timeline_lines(scratch_engine) == 2


class TestConnectionRefreshPlanBackfill:
    async def test_existing_connections_get_a_planned_refresh(
        self, scratch_engine: AsyncEngine
    ) -> None:
        import datetime as dt
        import uuid

        import sqlalchemy as sa

        from zakipost.db.types import UTCDateTime

        def table(name: str, **columns: sa.types.TypeEngine) -> sa.TableClause:
            return sa.table(name, *(sa.column(key, kind) for key, kind in columns.items()))

        when = UTCDateTime()
        accounts = table(
            "accounts", id=sa.Uuid(), email=sa.String(), password_hash=sa.Text(),
            plan=sa.String(), client_key=sa.String(), client_secret_hash=sa.String(),
            client_secret_encrypted=sa.Text(), is_admin=sa.Boolean(), created_at=when,
            updated_at=when,
        )  # fmt: skip
        connections = table(
            "connections", id=sa.Uuid(), account_id=sa.Uuid(), internal_token=sa.Uuid(),
            open_id=sa.String(), status=sa.String(), scopes=sa.JSON(),
            token_generation=sa.Integer(), daily_post_cap=sa.Integer(), created_at=when,
            updated_at=when, access_expires_at=when, last_refreshed_at=when,
        )  # fmt: skip
        await migrate.upgrade(scratch_engine, "0008")
        now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
        account_id, active_id, revoked_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        async with scratch_engine.begin() as conn:
            await conn.execute(
                accounts.insert().values(
                    id=account_id, email="old@example.com", password_hash="x", plan="pro",
                    client_key="zp_key_old", client_secret_hash="x", client_secret_encrypted="x",
                    is_admin=False, created_at=now, updated_at=now,
                )
            )  # fmt: skip
            for connection_id, status in ((active_id, "active"), (revoked_id, "revoked")):
                await conn.execute(
                    connections.insert().values(
                        id=connection_id, account_id=account_id, internal_token=uuid.uuid4(),
                        open_id=status, status=status, scopes=[], token_generation=3,
                        daily_post_cap=15, created_at=now, updated_at=now,
                        access_expires_at=now + dt.timedelta(hours=20),
                        last_refreshed_at=now - dt.timedelta(hours=4),
                    )
                )  # fmt: skip

        await migrate.upgrade(scratch_engine)

        planned_table = table(
            "connections", id=sa.Uuid(), access_expires_in=sa.Integer(), refresh_planned_at=when
        )
        async with scratch_engine.connect() as conn:
            rows = {row.id: row for row in await conn.execute(sa.select(planned_table))}
        issued = now - dt.timedelta(hours=4)
        active = rows[active_id]
        assert active.access_expires_in == 24 * 3600
        assert issued + dt.timedelta(hours=12) <= active.refresh_planned_at
        assert active.refresh_planned_at <= issued + dt.timedelta(hours=18)
        assert rows[revoked_id].refresh_planned_at is None
