"""Alembic environment: async engine, batch mode on SQLite, metadata from zakipost.models."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy import TypeDecorator
from sqlalchemy.engine import Connection

import zakipost.models  # noqa: F401  (registers every table)
from zakipost.db.base import Base
from zakipost.db.engine import create_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from zakipost.config import load_settings

        url = load_settings().database_url
    return str(url)


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations hold plain column types, so they never import application code.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    # On the driver's connection, outside any transaction: SQLite ignores this pragma
    # inside one.
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    cursor.close()


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
        render_item=_render_item,
    )
    if not sqlite:
        with context.begin_transaction():
            context.run_migrations()
        return
    # Batch mode rebuilds a table by copying it and dropping the original; with foreign keys
    # on, dropping a parent (connections, posts) would cascade-delete its children. SQLite's
    # own procedure for such changes: foreign keys off, then foreign_key_check before commit.
    assert not connection.in_transaction(), "SQLite migrations begin their own transaction"
    _sqlite_foreign_keys(connection, on=False)
    try:
        with context.begin_transaction():
            context.run_migrations()
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    finally:
        _sqlite_foreign_keys(connection, on=True)


async def _run_async() -> None:
    engine = create_engine(_url())
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    # Called from zakipost.db.migrate inside a running event loop: use its connection.
    _run(given)
else:
    asyncio.run(_run_async())
