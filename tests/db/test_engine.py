"""The PostgreSQL pool's checkout ping: a connection the server dropped never reaches a request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zakipost.db.engine import PING, create_engine


@pytest.fixture
async def pg_engine(dialect: str, database_urls: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    if dialect != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server to drop a connection")
    engine = create_engine(database_urls["postgresql"], pool_size=1)
    yield engine
    await engine.dispose()


async def _backend_pid(engine: AsyncEngine) -> int:
    return (await _checkout(engine))[0]


async def _checkout(engine: AsyncEngine) -> tuple[int, asyncpg.Connection]:
    async with engine.connect() as conn:
        pid = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        driver = (await conn.get_raw_connection()).driver_connection
    assert isinstance(driver, asyncpg.Connection)
    return pid, driver


async def _terminate(database_url: str, pid: int) -> None:
    admin = create_engine(database_url, pool_size=1)
    try:
        async with admin.connect() as conn:
            # With a timeout, pg_terminate_backend waits until the backend has exited.
            await conn.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
    finally:
        await admin.dispose()


class TestCheckoutPing:
    @pytest.mark.parametrize("client_noticed", [True, False])
    async def test_a_connection_the_server_dropped_is_replaced(
        self,
        pg_engine: AsyncEngine,
        database_urls: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
        client_noticed: bool,
    ) -> None:
        dropped, driver = await _checkout(pg_engine)
        await _terminate(database_urls["postgresql"], dropped)
        if not client_noticed:
            # As if the close had not reached this process yet: only the ping can tell.
            # (``driver`` stays referenced so it is not collected while this holds.)
            real = asyncpg.Connection.is_closed
            monkeypatch.setattr(
                asyncpg.Connection, "is_closed", lambda c: c is not driver and real(c)
            )
        replacement = await _backend_pid(pg_engine)
        monkeypatch.undo()
        assert replacement != dropped
        assert await _backend_pid(pg_engine) == replacement

    async def test_a_live_connection_is_pinged_once_and_kept(self, pg_engine: AsyncEngine) -> None:
        first, driver = await _checkout(pg_engine)
        seen: list[str] = []
        driver.add_query_logger(lambda record: seen.append(record.query))
        assert await _backend_pid(pg_engine) == first
        # One round trip before the session's transaction; pool_pre_ping sent three
        # (BEGIN, ";", ROLLBACK).
        # (The logger sees simple-protocol queries; the session's own begin with BEGIN.)
        assert seen[: seen.index("BEGIN;")] == [PING]
