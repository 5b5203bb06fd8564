"""Every query that reads connections (token writes stay in ``tokens.py``, under their lease)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.models import Connection


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

    async def list_for_account(self, account_id: uuid.UUID) -> Sequence[Connection]:
        result = await self.session.scalars(
            select(Connection)
            .where(Connection.account_id == account_id)
            .order_by(Connection.created_at, Connection.id)
        )
        return result.all()
