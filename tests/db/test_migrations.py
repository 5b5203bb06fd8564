from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

import zakipost.models  # noqa: F401
from zakipost.db import migrate
from zakipost.db.base import Base


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
        await migrate.upgrade(scratch_engine, "0005")
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
