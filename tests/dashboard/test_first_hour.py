"""A new user's first hour on the dashboard: sign-up that can publish on the default
settings, every sign-up error at once, the getting-started checklist, and compose saying
before the form when the balance cannot pay for a post."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.dashboard.conftest import Browser, connect_creator, csrf_of, log_in, sign_up
from tests.fixtures.app import create_account
from zakipost.account import service as account_service
from zakipost.billing import points
from zakipost.config import Settings
from zakipost.dashboard.routes.start import EXAMPLE_VIDEO_URL
from zakipost.kit.crypto import Vault
from zakipost.models import Post
from zakipost.post.schemas import VideoPublishRequest


def text_of(page: httpx.Response, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page.text, re.DOTALL)
    assert match, f"no #{element_id} on the page"
    return html.unescape(match.group(1))


def step_done(page: httpx.Response, number: int) -> bool:
    match = re.search(rf'data-step="{number}" data-done="(yes|no)"', page.text)
    assert match, page.text
    return match.group(1) == "yes"


class TestSignUpCanPost:
    async def test_the_default_settings_give_a_plan_with_api_access_and_points(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        vault: Vault,
    ) -> None:
        assert settings.billing.signup_plan == "starter"
        assert settings.billing.signup_points == 2000
        assert (await sign_up(client, "fresh@example.com")).status_code == 303
        async with sessionmaker() as session:
            account = await account_service.get_by_email(session, "fresh@example.com")
            assert account is not None
            assert account.plan == "starter"
            assert await points.balance(session, account.id) == 2000
        # The API answers the new account's own pair: no operator command needed.
        pair = account_service.reveal_credentials(vault, account)
        answer = await client.get(
            "/v1/account",
            headers={
                "X-ZakiPost-Client-Key": pair.client_key,
                "X-ZakiPost-Client-Secret": pair.client_secret,
            },
        )
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        assert data["api_access"] is True
        assert data["points_balance"] // data["publish_cost"] == 5

    async def test_the_operator_chooses_the_plan_and_points(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        settings.billing.signup_plan = "free"
        settings.billing.signup_points = 0
        assert (await sign_up(client, "waits@example.com")).status_code == 303
        async with sessionmaker() as session:
            account = await account_service.get_by_email(session, "waits@example.com")
            assert account is not None
            assert account.plan == "free"
            assert await points.balance(session, account.id) == 0
        start = await client.get("/dashboard/start")
        assert "ask the operator of this ZakiPost" in text_of(start, "cannot-publish")
        assert "does not include API access" in text_of(start, "no-api-access")


class TestSignUpErrors:
    async def test_every_field_error_is_shown_at_once(self, client: httpx.AsyncClient) -> None:
        response = await sign_up(client, "not an email", password="short")
        assert response.status_code == 400
        assert "is not an email address" in text_of(response, "email-error")
        assert "at least 8 characters" in text_of(response, "password-error")
        assert 'aria-describedby="password-hint password-error"' in response.text

    async def test_nothing_is_created_when_a_field_is_wrong(
        self, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        await sign_up(client, "ok@example.com", password="short")
        async with sessionmaker() as session:
            assert await account_service.get_by_email(session, "ok@example.com") is None


class TestChecklist:
    async def test_a_new_account_has_every_step_to_do(self, client: httpx.AsyncClient) -> None:
        await sign_up(client, "steps@example.com")
        start = await client.get("/dashboard/start")
        assert start.status_code == 200
        assert [step_done(start, n) for n in (1, 2, 3)] == [False, False, False]
        assert "5 posts at 400 points each" in text_of(start, "balance-hint")
        # Placeholders, saying where the values come from.
        curl = text_of(start, "curl-example")
        assert "ZAKIPOST_API_KEY='zp_sk_…'" in curl
        assert "YOUR_TIKTOK_ACCOUNT_ID" in curl

    async def test_the_key_is_filled_in_once_then_named_by_its_prefix(
        self, browser: Browser
    ) -> None:
        page = await browser.client.get("/dashboard/start")
        created = await browser.client.post(
            "/dashboard/start/key", data={"csrf_token": csrf_of(page), "name": "laptop"}
        )
        assert created.status_code == 200
        key = text_of(created, "new-key")
        assert re.fullmatch(r"zp_sk_[A-Za-z0-9]{40}", key)
        assert step_done(created, 1)
        assert f"export ZAKIPOST_API_KEY='{key}'" in text_of(created, "curl-example")
        assert f'API_KEY = "{key}"' in text_of(created, "python-example")
        # The key works as the example sends it.
        answer = await browser.client.get("/v1/account", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200
        again = await browser.client.get("/dashboard/start")
        assert key not in again.text
        assert f'API_KEY = "{key[:10]}' in text_of(again, "python-example")
        assert "# the key you copied" in text_of(again, "python-example")
        assert step_done(again, 1)

    async def test_an_empty_key_name_is_shown_next_to_the_field(self, browser: Browser) -> None:
        page = await browser.client.get("/dashboard/start")
        refused = await browser.client.post(
            "/dashboard/start/key", data={"csrf_token": csrf_of(page), "name": " "}
        )
        assert refused.status_code == 400
        assert "1 to 100 characters" in text_of(refused, "name-error")
        assert not step_done(refused, 1)

    async def test_steps_tick_from_the_connection_and_the_first_post(
        self,
        browser: Browser,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account_id = await connect_creator(browser.client)
        start = await browser.client.get("/dashboard/start")
        assert step_done(start, 2)
        assert not step_done(start, 3)
        assert text_of(start, "tiktok-account-id") == account_id
        python = text_of(start, "python-example")
        assert f'"tiktok_account_id": "{account_id}"' in python

        # The example's body is a valid publish request as it stands (with its own link).
        curl = text_of(start, "curl-example")
        sent = re.search(r"-d '(\{.*?\})'", curl, re.DOTALL)
        assert sent, curl
        body = json.loads(sent.group(1))
        request = VideoPublishRequest.model_validate(body)
        assert request.video_url == EXAMPLE_VIDEO_URL
        answer = await browser.client.post(
            "/v1/tiktok/publish", json=body, headers=browser.owner.headers
        )
        assert answer.status_code == 200, answer.text
        publish_id = answer.json()["data"]["publish_id"]

        start = await browser.client.get("/dashboard/start")
        assert step_done(start, 3)
        assert f'href="/dashboard/posts/{publish_id}"' in start.text
        async with sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(Post)) == 1

    async def test_another_accounts_things_do_not_tick_it(
        self, browser: Browser, intruder: Browser
    ) -> None:
        await connect_creator(intruder.client)
        start = await browser.client.get("/dashboard/start")
        assert [step_done(start, n) for n in (1, 2, 3)] == [False, False, False]


class TestComposePreCheck:
    @pytest.fixture
    async def broke(
        self,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> Browser:
        owner = await create_account(
            sessionmaker, settings, vault, email="broke@example.com", points=100
        )
        assert (await log_in(client, owner.account.email, owner.password)).status_code == 303
        return Browser(client, owner)

    async def test_a_balance_below_the_cost_is_said_before_the_form(self, broke: Browser) -> None:
        account_id = await connect_creator(broke.client)
        page = await broke.client.get(f"/dashboard/compose?account={account_id}")
        assert page.status_code == 200
        message = text_of(page, "cannot-publish")
        assert "costs 400 points and your balance is 100" in message
        assert "ask the operator of this ZakiPost" in message
        assert 'id="compose"' not in page.text
        assert "compose.js" not in page.text
        assert 'href="/dashboard/points"' in page.text

    async def test_enough_points_show_the_form(self, browser: Browser, account_id: str) -> None:
        page = await browser.client.get(f"/dashboard/compose?account={account_id}")
        assert 'id="compose"' in page.text
        assert 'id="cannot-publish"' not in page.text

    async def test_free_publishing_never_stops_the_form(
        self, broke: Browser, settings: Settings
    ) -> None:
        settings.billing.publish_cost = 0
        account_id = await connect_creator(broke.client)
        page = await broke.client.get(f"/dashboard/compose?account={account_id}")
        assert 'id="compose"' in page.text


async def test_a_plan_without_api_access_is_a_warning_not_a_stop(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    vault: Vault,
) -> None:
    free = await create_account(sessionmaker, settings, vault, email="f@example.com", plan="free")
    assert (await log_in(client, free.account.email, free.password)).status_code == 303
    start = await client.get("/dashboard/start")
    assert "Posting from this dashboard still works" in text_of(start, "no-api-access")
    assert 'id="cannot-publish"' not in start.text
