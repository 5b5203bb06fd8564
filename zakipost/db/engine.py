"""Engine factory: SQLite in WAL mode with IMMEDIATE transactions, or a PostgreSQL pool."""

from __future__ import annotations

import weakref
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.util import await_

from zakipost.db.write_queue import WriteQueue

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "zakipost_read_only"


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """Create the async engine for ``url`` with the dialect's pragmas and pool options.

    SQL parameters never reach a log line or an error message (``hide_parameters``): they
    hold CSRF tokens, password hashes and ciphertexts, and DEBUG logging would print them.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, echo=echo, pool_size=pool_size)
    engine = create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
    )
    _ping_on_checkout(engine)
    return engine


def _ping_on_checkout(engine: AsyncEngine) -> None:
    """``pool_pre_ping`` in one round trip instead of three.

    SQLAlchemy's asyncpg ping runs a prepared ``;`` between BEGIN and ROLLBACK (for
    pgbouncer's transaction mode, where a prepared statement outside a transaction may not
    survive). A simple-protocol query needs neither: one round trip, which fails on a
    connection the server dropped. A fresh connection is not pinged: its handshake just
    answered. DisconnectionError makes the pool discard the connection and take a new one.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info[_JUST_CONNECTED] = True

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop(_JUST_CONNECTED, False):
            return
        connection = record.driver_connection
        if connection.is_closed():
            raise DisconnectionError("the server closed the connection")
        try:
            await_(connection.execute(PING))
        except Exception as exc:
            # As the dialect's is_disconnect decides; anything else is a real error.
            if connection.is_closed() or isinstance(exc, _DISCONNECTS):
                raise DisconnectionError(f"the connection failed its ping: {exc!r}") from exc
            raise


PING = "SELECT 1"
_JUST_CONNECTED = "zakipost_just_connected"
_DISCONNECTS = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


def _create_sqlite_engine(url: str, *, echo: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    writers = WriteQueue(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    writers.install(engine.sync_engine)
    _WRITE_QUEUES[engine.sync_engine.dialect] = writers

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE below is the only BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes fails with SQLITE_BUSY without
        # waiting when another writer got in first; IMMEDIATE takes the write lock up front,
        # so busy_timeout applies. Transactions are kept short (never across network I/O).
        # The writers of this process queue for it in order first (zakipost.db.write_queue).
        # Read-only sessions (see create_read_sessionmaker) begin deferred and never block.
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
        else:
            writers.begin_immediate(connection)

    return engine


# By dialect: engines made by execution_options() share their parent's.
_WRITE_QUEUES: weakref.WeakKeyDictionary[Dialect, WriteQueue] = weakref.WeakKeyDictionary()


def write_queue(engine: AsyncEngine) -> WriteQueue | None:
    """The in-process queue of ``engine``'s writers; None on PostgreSQL."""
    return _WRITE_QUEUES.get(engine.sync_engine.dialect)


class AppSession(Session):
    """The synchronous session under every ``AsyncSession`` of the app: the class commit
    hooks listen on (``zakipost.webhook.outbox`` turns recorded domain events into
    deliveries in the committing transaction)."""


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, sync_session_class=AppSession
    )


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads only: on SQLite they do not take the write lock."""
    return async_sessionmaker(
        engine.execution_options(**{READ_ONLY_OPTION: True}),
        expire_on_commit=False,
        autoflush=False,
        sync_session_class=AppSession,
    )
