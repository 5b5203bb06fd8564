"""Scopes: by default ZakiPost asks only for what posting needs, so an app without Display
API approval connects; asking for a scope the app lacks fails the consent, and the user and
the operator are told which setting to change."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import CALLBACK_TARGET, connect_via_api
from tests.dashboard.conftest import log_in, post_form
from tests.fixtures.app import AccountWithKeys, make_settings
from zakipost.config import Settings
from zakipost.models import Connection

POSTING = ("user.info.basic", "video.upload", "video.publish")
WITH_DISPLAY = ("user.info.basic", "user.info.profile", "video.upload", "video.publish")


@pytest.fixture
def requested_scopes() -> tuple[str, ...] | None:
    return None


@pytest.fixture
def settings(tmp_path: Path, requested_scopes: tuple[str, ...] | None) -> Settings:
    if requested_scopes is None:
        return make_settings(tmp_path)
    return make_settings(tmp_path, tiktok={"scopes": list(requested_scopes)})


@pytest.fixture
def app_without_display(sandbox):
    """A new TikTok app (the sandbox's default): Login Kit and Content Posting, no Display."""
    assert not sandbox.config.display_api_approved
    assert sorted(sandbox.config.approved_scopes) == sorted(POSTING)
    return sandbox


async def _connections(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Connection]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Connection))).all())


def test_the_default_request_is_what_posting_needs(settings: Settings) -> None:
    assert settings.tiktok.scopes == POSTING


class TestDefaultScopes:
    async def test_connect_succeeds_against_an_app_without_display_approval(
        self,
        app_without_display,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        settings: Settings,
    ) -> None:
        started = await client.post("/v1/tiktok/connect", json={}, headers=owner.headers)
        authorize = parse_qs(urlsplit(started.json()["data"]["authorize_url"]).query)
        assert authorize["scope"] == [",".join(POSTING)]

        query = await connect_via_api(client, owner)
        assert "tiktok_account_id" in query, query
        [entry] = (await client.get("/v1/tiktok/accounts", headers=owner.headers)).json()["data"]
        assert sorted(entry["scopes"]) == sorted(POSTING)
        # No user.info.profile: the username comes from creator info instead.
        assert entry["username"] == app_without_display.creators[0].username


class TestDisplayScopesAskedFor:
    @pytest.fixture
    def requested_scopes(self) -> tuple[str, ...]:
        return WITH_DISPLAY

    async def test_over_the_api_the_redirect_names_the_setting(
        self,
        app_without_display,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        started = await client.post(
            "/v1/tiktok/connect", json={"redirect_url": CALLBACK_TARGET}, headers=owner.headers
        )
        refused = await client.get(started.json()["data"]["authorize_url"])
        assert refused.status_code in (302, 303)
        back = await client.get(refused.headers["location"])
        assert back.status_code == 303
        location = back.headers["location"]
        assert location.startswith(CALLBACK_TARGET)
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert query["error"] == "invalid_scope"
        description = query["error_description"]
        assert "ZAKIPOST_TIKTOK_SCOPES" in description
        assert "user.info.profile" in description
        assert '["user.info.basic","video.upload","video.publish"]' in description
        assert await _connections(sessionmaker) == []

    async def test_on_the_dashboard_the_page_says_it_failed_and_why(
        self,
        app_without_display,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        assert (await log_in(client, owner.account.email, owner.password)).status_code == 303
        started = await post_form(client, "/dashboard/accounts", "/dashboard/accounts/connect")
        refused = await client.get(started.headers["location"])
        page = await client.get(refused.headers["location"])
        assert page.status_code == 400
        assert "Could not connect TikTok" in page.text
        assert "ZAKIPOST_TIKTOK_SCOPES" in page.text
        assert "not approved" in page.text
        assert await _connections(sessionmaker) == []

    async def test_an_app_with_display_approval_connects_and_reads_the_profile(
        self, sandbox, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        sandbox.configure(display_api_approved=True)
        query = await connect_via_api(client, owner)
        assert "tiktok_account_id" in query, query
        [entry] = (await client.get("/v1/tiktok/accounts", headers=owner.headers)).json()["data"]
        assert "user.info.profile" in entry["scopes"]
        assert entry["username"] == sandbox.creators[0].username
