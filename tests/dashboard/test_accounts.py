"""Connected accounts: Connect TikTok, what each account shows, reconnect, disconnect."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.dashboard.conftest import Browser, connect_creator, post_form
from zakipost.models import Connection, ConnectionStatus


class TestConnect:
    async def test_connect_from_the_dashboard(self, browser: Browser) -> None:
        account_id = await connect_creator(browser.client)
        page = await browser.client.get("/dashboard/accounts?connected=1")
        assert "TikTok account connected." in page.text
        assert f'data-tiktok-account-id="{account_id}"' in page.text
        assert "Sandbox Creator" in page.text
        assert "@sandbox.creator" in page.text
        assert "video.publish" in page.text
        assert 'class="status status-active"' in page.text
        assert "Disconnect…" in page.text

    async def test_reconnect_is_offered_when_tiktok_refused_the_tokens(
        self,
        browser: Browser,
        account_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Connection).values(
                    status=ConnectionStatus.reconnect_required,
                    status_reason="TikTok refused to refresh the tokens.",
                )
            )
        page = await browser.client.get("/dashboard/accounts")
        assert "reconnect required" in page.text
        assert ">Reconnect</button>" in page.text
        # Reconnecting is a fresh Connect TikTok: the same creator comes back active.
        again = await connect_creator(browser.client)
        assert again == account_id
        async with sessionmaker() as session:
            connection = (await session.scalars(select(Connection))).one()
        assert connection.status is ConnectionStatus.active


class TestDisconnect:
    async def test_asks_first_then_revokes_and_forgets_the_tokens(
        self,
        browser: Browser,
        account_id: str,
        sandbox: Any,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        path = f"/dashboard/accounts/{account_id}/disconnect"
        confirm = await browser.client.get(path)
        assert confirm.status_code == 200
        assert "Disconnect @sandbox.creator?" in confirm.text
        async with sessionmaker() as session:
            assert (await session.scalars(select(Connection))).one().access_token_encrypted
        response = await post_form(browser.client, path, path)
        assert response.status_code == 303
        page = await browser.client.get(response.headers["location"])
        assert "disconnected" in page.text
        assert "revoked" in page.text
        assert "Connect again" in page.text
        async with sessionmaker() as session:
            connection = (await session.scalars(select(Connection))).one()
        assert connection.access_token_encrypted is None
        assert connection.refresh_token_encrypted is None

    async def test_unknown_account_is_a_404_page(self, browser: Browser) -> None:
        response = await browser.client.get(f"/dashboard/accounts/{uuid.uuid4()}/disconnect")
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"]
        assert "No connected TikTok account" in response.text
