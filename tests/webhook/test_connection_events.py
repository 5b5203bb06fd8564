"""Connection events at their sources, delivered: reconnect_required when the connection
cannot last, expiring 14 and 3 days before the horizon (once each per horizon)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.fixtures.app import AccountWithKeys
from tests.webhook.conftest import Receiver, create_webhook, deliver_all
from zakipost.config import Settings
from zakipost.connection.errors import ReconnectRequired
from zakipost.kit.clock import utcnow
from zakipost.maintenance.tasks import EXPIRING_TASK
from zakipost.models import Connection
from zakipost.worker import Worker, enqueue


def types_of(receiver: Receiver) -> list[tuple[str, object]]:
    bodies = [json.loads(r.body) for r in receiver.requests]
    return [(b["type"], b.get("details", {}).get("days_before")) for b in bodies]


async def set_horizon(sessionmaker: async_sessionmaker[AsyncSession], at: dt.datetime) -> uuid.UUID:
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Connection).values(refresh_expires_at=at))
        return (await session.scalars(select(Connection.id))).one()


class TestReconnectRequired:
    async def test_a_connection_past_its_horizon_tells_reconnect_required(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        receiver: Receiver,
        hook_worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        hooks_settings: Settings,
    ) -> None:
        await connect_via_api(client, owner)
        await create_webhook(
            client, owner, receiver.url(), events=["connection.reconnect_required"]
        )
        connection_id = await set_horizon(sessionmaker, utcnow() - dt.timedelta(minutes=1))
        with pytest.raises(ReconnectRequired):
            await app.state.token_vault.access_token(connection_id)
        await deliver_all(hook_worker, sessionmaker)
        [request] = receiver.requests
        body = json.loads(request.body)
        assert body["type"] == "connection.reconnect_required"
        assert body["data"]["status"] == "reconnect_required"


class TestExpiring:
    async def test_fourteen_and_three_days_ahead_once_each_per_horizon(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        receiver: Receiver,
        hook_worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        hooks_settings: Settings,
    ) -> None:
        await connect_via_api(client, owner)
        await create_webhook(client, owner, receiver.url(), events=["connection.expiring"])
        clock = hook_worker.clock
        horizon = clock() + dt.timedelta(days=20)
        await set_horizon(sessionmaker, horizon)

        async def sweep() -> None:
            async with sessionmaker() as session, session.begin():
                await enqueue(session, EXPIRING_TASK, {}, now=clock())
            await deliver_all(hook_worker, sessionmaker)

        await sweep()
        assert types_of(receiver) == []
        clock.advance(7 * 86400)  # type: ignore[attr-defined]  # 13 days left
        await sweep()
        await sweep()
        assert types_of(receiver) == [("connection.expiring", 14)]
        clock.advance(10.5 * 86400)  # type: ignore[attr-defined]  # 2.5 days left
        await sweep()
        await sweep()
        assert types_of(receiver) == [("connection.expiring", 14), ("connection.expiring", 3)]
        body = json.loads(receiver.requests[-1].body)
        assert body["details"]["reconnect_by"].startswith(horizon.date().isoformat())

        # A reconnect gives a new horizon, warned about afresh (once, the nearer warning).
        await set_horizon(sessionmaker, clock() + dt.timedelta(days=2))
        await sweep()
        await sweep()
        assert types_of(receiver)[2:] == [("connection.expiring", 3)]
