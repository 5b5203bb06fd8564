"""The one place where SQL differs between SQLite and PostgreSQL.

Everything else builds portable SQLAlchemy statements and hands the few
dialect-sensitive ones here:

- the job claim (and lease renewal): ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
  concurrent claimers pass over each other's rows; on SQLite the ``BEGIN IMMEDIATE``
  transaction already excludes every other writer;
- the fence: a row lock (``FOR UPDATE``) on the job on PostgreSQL, held until the
  fenced transaction commits; SQLite's write lock does the same for the whole file;
- the upsert for queueing locks and :func:`insert_if_absent` (``ON CONFLICT DO NOTHING``,
  both dialects, different constructs);
- transaction-scoped named locks (an advisory lock on PostgreSQL, a no-op on SQLite);
- a server-side limit on how long a transaction may sit idle (PostgreSQL only);
- ``NOTIFY``/``LISTEN`` (PostgreSQL only).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    Table,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from zakipost.models.job import Job

JOBS: Table = Job.__table__  # type: ignore[assignment]


def dialect_name(session: AsyncSession) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return session.get_bind().dialect.name


def _build_insert_job(name: str) -> Any:
    insert = postgresql.insert if name == "postgresql" else sqlite.insert
    return (
        insert(JOBS)
        .on_conflict_do_nothing(
            # Literal, not a bound parameter: PostgreSQL must match it to the partial index.
            index_elements=[JOBS.c.queueing_lock],
            index_where=text("status = 'todo'"),
        )
        .returning(JOBS.c.id)
    )


# Built once per dialect, the values passed as parameters at execution: building the
# statement and its cache key anew for every job was a measurable part of a publish.
_INSERT_JOB = {name: _build_insert_job(name) for name in ("postgresql", "sqlite")}


async def insert_job(session: AsyncSession, values: Mapping[str, Any]) -> uuid.UUID | None:
    """Insert a job unless a queued job holds its queueing_lock; its id, or None if skipped.

    Uses ``ON CONFLICT DO NOTHING`` on the partial unique index, so a duplicate neither
    raises nor aborts the caller's transaction (PostgreSQL would abort it on an error).
    """
    stmt = _INSERT_JOB[dialect_name(session)]
    job_id: uuid.UUID | None = (await session.execute(stmt, dict(values))).scalar_one_or_none()
    return job_id


def insert_job_sync(session: Session, values: Mapping[str, Any]) -> uuid.UUID | None:
    """:func:`insert_job` for a synchronous session (a commit hook of the async one)."""
    stmt = _INSERT_JOB[session.get_bind().dialect.name]
    job_id: uuid.UUID | None = session.execute(stmt, dict(values)).scalar_one_or_none()
    return job_id


async def insert_if_absent(session: AsyncSession, table: Table, values: Mapping[str, Any]) -> bool:
    """Insert a row unless one with the same primary key exists; True when inserted.

    ``ON CONFLICT DO NOTHING``: a concurrent duplicate neither raises nor aborts the
    caller's transaction.
    """
    insert = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values).on_conflict_do_nothing()
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def update_skip_locked(
    session: AsyncSession,
    candidates: Select[tuple[uuid.UUID]],
    values: Mapping[str, Any],
    returning: Sequence[ColumnElement[Any]],
    params: Mapping[str, Any] | None = None,
) -> Sequence[Row[Any]]:
    """Apply ``values`` to the jobs ``candidates`` selects, in one statement, passing over
    rows another transaction has locked; the updated rows. This is the job claim (and the
    lease renewal, which must not wait on a fenced transaction of the same job).
    ``params`` binds the parameters of a statement built once by the caller."""
    if dialect_name(session) == "postgresql":
        # SKIP LOCKED: rows another claimer is taking right now are passed over, not waited
        # for. A CTE (not IN (subquery)) so the planner runs the locking select once.
        picked = candidates.with_for_update(skip_locked=True, of=JOBS).cte("picked")
        stmt = update(JOBS).where(JOBS.c.id == picked.c.id)
    else:
        # One writer at a time: the IMMEDIATE transaction already excludes everyone else.
        stmt = update(JOBS).where(JOBS.c.id.in_(candidates.scalar_subquery()))
    result = await session.execute(stmt.values(**values).returning(*returning), params)
    return result.all()


async def lock_job(
    session: AsyncSession, statement: Select[Any], params: Mapping[str, Any]
) -> Row[Any] | None:
    """Run ``statement``, a select of one job ``FOR UPDATE`` built once by the caller, with
    ``params``; the job's row, locked until the transaction ends. PostgreSQL locks the row;
    SQLite renders no ``FOR UPDATE``, its transaction already holding the write lock."""
    return (await session.execute(statement, dict(params))).first()


# Built once: the timeout is a bound parameter (the set_config value is text).
_LIMIT_IDLE = select(
    func.set_config(
        "idle_in_transaction_session_timeout", bindparam("idle_ms", type_=String()), True
    )
)


async def limit_idle(session: AsyncSession, seconds: float) -> None:
    """Have the server end this transaction if its client goes quiet for ``seconds``.

    A worker frozen mid-transaction (SIGSTOP, a swap storm, a debugger) would otherwise
    keep its row and advisory locks, and so its jobs, for as long as it stays frozen.
    PostgreSQL only: on SQLite a frozen process is the only process.
    """
    if dialect_name(session) == "postgresql":
        await session.execute(_LIMIT_IDLE, {"idle_ms": str(max(int(seconds * 1000), 1))})


def _key_to_bigint(key: str) -> int:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_key(session: AsyncSession, key: str) -> None:
    """Serialize transactions that name the same ``key``, until this one ends."""
    if dialect_name(session) == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(_key_to_bigint(key))))


async def notify(session: AsyncSession, channel: str, payload: str = "") -> None:
    """Queue a notification for delivery when the transaction commits (PostgreSQL only)."""
    if dialect_name(session) == "postgresql":
        await session.execute(select(func.pg_notify(channel, payload)))


def notify_sync(session: Session, channel: str, payload: str = "") -> None:
    """:func:`notify` for a synchronous session."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(channel, payload)))


class Listener:
    """A dedicated PostgreSQL connection that ``LISTEN``s on one channel."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    @property
    def alive(self) -> bool:
        """False once the connection dropped; open a new listener then."""
        return not self._connection.is_closed()

    async def close(self) -> None:
        """Stop listening and close the connection (abruptly if the server does not answer)."""
        if self._connection.is_closed():
            return
        try:
            await self._connection.close(timeout=5)
        except (OSError, TimeoutError, asyncpg.PostgresError):
            self._connection.terminate()


async def listen(
    engine: AsyncEngine, channel: str, callback: Callable[[], None]
) -> Listener | None:
    """Call ``callback`` on every notification on ``channel``; None on SQLite.

    A connection of its own, outside the pool: a pooled connection would be reset
    (and could be recycled) under the listener.
    """
    if engine.dialect.name != "postgresql":
        return None
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    await connection.add_listener(channel, lambda *_: callback())
    return Listener(connection)


def _build_insert_job_notifying(name: str) -> Any:
    insert = postgresql.insert if name == "postgresql" else sqlite.insert
    stmt = insert(JOBS).on_conflict_do_nothing(
        index_elements=[JOBS.c.queueing_lock], index_where=text("status = 'todo'")
    )
    if name == "postgresql":
        # The notification rides on the INSERT: RETURNING runs once per inserted row, so a
        # job skipped by its queueing lock notifies no one, as notify() after insert_job.
        return stmt.returning(func.pg_notify(bindparam("notify_channel"), JOBS.c.kind))
    # No RETURNING: the id is the caller's, and rowcount says whether the row went in (one
    # fetch less through aiosqlite's thread per job).
    return stmt


_INSERT_JOB_NOTIFYING = {
    name: _build_insert_job_notifying(name) for name in ("postgresql", "sqlite")
}


def insert_job_notifying_sync(session: Session, values: Mapping[str, Any], channel: str) -> bool:
    """:func:`insert_job_sync` and :func:`notify_sync` (payload: the job's kind) in one
    statement: whether the job went in (a queued job holding its queueing_lock skips it, and
    then nothing is notified). ``values`` must hold the job's id."""
    name = session.get_bind().dialect.name
    connection = session.connection()
    if name == "postgresql":
        params = {**values, "notify_channel": channel}
        return connection.execute(_INSERT_JOB_NOTIFYING[name], params).first() is not None
    return bool(connection.execute(_INSERT_JOB_NOTIFYING[name], dict(values)).rowcount)
