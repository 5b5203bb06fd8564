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
