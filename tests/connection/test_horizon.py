"""The 180-day horizon: refreshing does not extend the refresh token, so each connection
shows when the user must connect again, warns from 14 days before, then stops publishing."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.connection.timing import SimulatedTime
from tests.dashboard.conftest import log_in
from tests.e2e.test_publish_flow import put, read
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.media_server import MediaServer
from tests.sandbox.media import make_video
from zakipost.models import Connection, ConnectionStatus
from zakipost.worker import Worker

DAY = 86_400


async def _row(sessionmaker: async_sessionmaker[AsyncSession]) -> Connection:
    async with sessionmaker() as session:
        return (await session.scalars(select(Connection))).one()


async def _account(client: httpx.AsyncClient, owner: AccountWithKeys) -> dict:
    [entry] = (await client.get("/v1/tiktok/accounts", headers=owner.headers)).json()["data"]
    return dict(entry)


async def _publish(
    client: httpx.AsyncClient, owner: AccountWithKeys, account_id: str, url: str
) -> httpx.Response:
    return await client.post(
        "/v1/tiktok/publish",
        json={"video_url": url, "tiktok_account_id": account_id, "privacy_level": "SELF_ONLY"},
        headers=owner.headers,
    )


class TestReconnectBy:
    async def test_shown_without_warning_while_far_away(
        self,
        todays_tiktok,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        connected: uuid.UUID,
        sessionmaker,
    ) -> None:
        entry = await _account(client, owner)
        row = await _row(sessionmaker)
        assert row.refresh_expires_at is not None
        reconnect_by = dt.datetime.fromisoformat(entry["reconnect_by"])
        assert reconnect_by == row.refresh_expires_at
        assert dt.timedelta(days=179) < reconnect_by - dt.datetime.now(dt.UTC)
        assert entry["reconnect_warning"] is None

    async def test_warns_on_the_api_and_the_dashboard_from_14_days_before(
        self, sandbox, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        # A connection made 167 days ago: TikTok's answers say 13 days are left.
        sandbox.configure(access_token_ttl_seconds=7200, refresh_token_ttl_seconds=13 * DAY)
        account_id = (await connect_via_api(client, owner))["tiktok_account_id"]

        entry = await _account(client, owner)
        warning = entry["reconnect_warning"]
        assert warning and "connect it again before then" in warning
        assert entry["reconnect_by"][:10] in warning

        assert (await log_in(client, owner.account.email, owner.password)).status_code == 303
        page = await client.get("/dashboard/accounts")
        assert 'class="field-error reconnect-warning" role="alert"' in page.text
        assert "connect it again before then" in page.text
        assert "Connect again by" in page.text
        # Publishing still works until then.
        response = await _publish(client, owner, account_id, "https://media.example.com/v.mp4")
        assert response.status_code == 200, response.text


class TestHorizonPassed:
    async def test_publishing_is_refused_at_acceptance(
        self,
        todays_tiktok,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        connected: uuid.UUID,
        sessionmaker,
    ) -> None:
        ended = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        async with sessionmaker() as session, session.begin():
            await session.execute(update(Connection).values(refresh_expires_at=ended))
        response = await _publish(client, owner, str(connected), "https://media.example.com/v.mp4")
        assert response.status_code == 409
        body = response.json()
        assert body["code"] == "reconnect_required"
        assert "180 days" in body["message"] and "connect the account again" in body["message"]
        assert f"{ended:%Y-%m-%d %H:%M}" in body["message"]

    async def test_a_post_waiting_past_the_horizon_fails_with_the_reason(
        self,
        todays_tiktok,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        timed_worker: Worker,
        sim_time: SimulatedTime,
        sessionmaker,
    ) -> None:
        sandbox = todays_tiktok
        sandbox.configure(refresh_token_ttl_seconds=2 * DAY)
        account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
        scheduled = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
        response = await client.post(
            "/v1/tiktok/publish",
            json={
                "video_url": put(media_server, "later.mp4", make_video(seconds=4)),
                "tiktok_account_id": account_id,
                "privacy_level": "SELF_ONLY",
                "scheduled_at": scheduled,
            },
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        publish_id = response.json()["data"]["publish_id"]

        # Three days pass; the refresh jobs keep the connection alive until its horizon.
        for _ in range(3 * 24):
            sim_time.advance(3600)
            await timed_worker.run_until_idle()

        post = await read(client, owner, publish_id)
        assert post["status"] == "failed", post
        assert post["error"]["code"] == "reconnect_required"
        assert "connect the account again" in post["error"]["message"]
        row = await _row(sessionmaker)
        assert row.status is ConnectionStatus.reconnect_required
        assert "180 days" in (row.status_reason or "")
        entry = await _account(client, owner)
        assert entry["status"] == "reconnect_required"
        assert entry["next_refresh_at"] is None
