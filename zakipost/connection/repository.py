"""Every query that reads connections (token writes stay in ``tokens.py``, under their lease)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.models import Connection, ConnectionStatus

_CONNECTIONS: Table = Connection.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class PublishTarget:
    """What accepting a post reads of its connection: whether it may publish now, and the
    creator info cached on it."""

    id: uuid.UUID
    status: ConnectionStatus
    status_reason: str | None
    scopes: list[str]
    refresh_expires_at: dt.datetime | None
    creator_info: dict[str, Any] | None
    creator_info_fetched_at: dt.datetime | None


# Built once and read as plain columns (every publish runs it): an ORM entity load of the
# whole row cost several times more.
_PUBLISH_TARGET = select(*(_CONNECTIONS.c[field.name] for field in fields(PublishTarget))).where(
    _CONNECTIONS.c.internal_token == bindparam("internal_token"),
    _CONNECTIONS.c.account_id == bindparam("account_id"),
)


class ConnectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ConnectionRepository:
        return cls(session)

    async def get(self, connection_id: uuid.UUID, *, lock: bool = False) -> Connection | None:
        return await self.session.get(Connection, connection_id, with_for_update=lock or None)

    async def get_for_account(
        self, account_id: uuid.UUID, internal_token: uuid.UUID
    ) -> Connection | None:
        """The account's connection that callers know as ``internal_token``; None for anyone
        else's."""
        return (
            await self.session.scalars(
                select(Connection).where(
                    Connection.internal_token == internal_token,
                    Connection.account_id == account_id,
                )
            )
        ).first()

    async def publish_target(
        self, account_id: uuid.UUID, internal_token: uuid.UUID
    ) -> PublishTarget | None:
        """:meth:`get_for_account`, reading only what acceptance checks (one trip to the
        session's synchronous side, not two)."""
        params = {"internal_token": internal_token, "account_id": account_id}
        row = await self.session.run_sync(
            lambda session: session.connection().execute(_PUBLISH_TARGET, params).first()
        )
        return PublishTarget(*row) if row is not None else None

    async def list_for_account(self, account_id: uuid.UUID) -> Sequence[Connection]:
        result = await self.session.scalars(
            select(Connection)
            .where(Connection.account_id == account_id)
            .order_by(Connection.created_at, Connection.id)
        )
        return result.all()
