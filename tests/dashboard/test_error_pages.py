"""Error pages in the dashboard's style with the next action, for browsers; the JSON
envelope for the API and every other client. The landing page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.dashboard.conftest import Browser, csrf_of, post_form
from tests.fixtures.app import make_settings, running_app

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
STYLESHEET = '<link rel="stylesheet" href="/dashboard/static/dashboard.css">'


def assert_styled(page: httpx.Response, status: int, title: str) -> None:
    assert page.status_code == status, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert STYLESHEET in page.text
    assert f"<h1>{title}</h1>" in page.text


class TestNotFound:
    async def test_a_browser_gets_a_page_with_a_way_back(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/no-such-page", headers=HTML)
        assert_styled(page, 404, "Page not found")
        assert "/no-such-page" in page.text
        assert 'href="/dashboard"' in page.text

    async def test_a_dashboard_path_is_a_page_whoever_asks(self, client: httpx.AsyncClient) -> None:
        assert_styled(await client.get("/dashboard/nothing-here"), 404, "Page not found")

    async def test_the_api_keeps_its_envelope(self, client: httpx.AsyncClient) -> None:
        for path in ("/v1/no-such-endpoint", "/no-such-page", "/media/none"):
            answer = await client.get(path, headers=HTML if path.startswith("/v1") else {})
            assert answer.status_code == 404
            assert answer.json()["success"] is False, path

    async def test_another_accounts_post_is_not_found_with_a_way_back(
        self, browser: Browser
    ) -> None:
        page = await browser.client.get("/dashboard/posts/v_pub_0000000000000000")
        assert_styled(page, 404, "Not found")
        assert "Back to the dashboard" in page.text
        assert "Log out" in page.text  # still signed in, with the navigation


class TestMethodNotAllowed:
    async def test_opening_a_form_action_says_where_to_start(self, browser: Browser) -> None:
        page = await browser.client.get("/dashboard/logout")
        assert_styled(page, 405, "Not a page to open this way")


class TestExpiredForm:
    async def test_says_nothing_changed_and_links_back_to_the_form(self, browser: Browser) -> None:
        page = await browser.client.post(
            "/dashboard/keys/named",
            data={"name": "x", "csrf_token": "stale"},
            headers={"Referer": f"{browser.client.base_url}/dashboard/keys"},
        )
        assert_styled(page, 403, "Form expired")
        assert "Nothing was changed" in page.text
        assert 'href="/dashboard/keys"' in page.text
        assert "Open the form again" in page.text

    async def test_a_foreign_referer_is_not_offered(self, browser: Browser) -> None:
        page = await browser.client.post(
            "/dashboard/keys/named",
            data={"name": "x", "csrf_token": "stale"},
            headers={"Referer": "https://elsewhere.example/dashboard/keys"},
        )
        assert page.status_code == 403
        assert "Open the form again" not in page.text


class TestServerError:
    @pytest.fixture
    async def failing_app(self, tmp_path: Path, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
        async with running_app(make_settings(tmp_path), engine) as app:

            async def boom() -> None:
                raise RuntimeError("secret detail of the failure")

            app.add_api_route("/dashboard/boom", boom, methods=["GET"])
            app.add_api_route("/v1/boom", boom, methods=["GET"])
            yield app

    async def test_a_browser_gets_a_page_without_the_details(self, failing_app: FastAPI) -> None:
        transport = httpx.ASGITransport(app=failing_app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            page = await client.get("/dashboard/boom?x=1", headers=HTML)
            assert_styled(page, 500, "Something went wrong on our side")
            assert "secret detail" not in page.text
            assert 'href="/dashboard/boom?x=1"' in page.text  # try again
            api = await client.get("/v1/boom", headers=HTML)
            assert api.status_code == 500
            assert api.json()["code"] == "internal_error"
            assert "secret detail" not in api.text


class TestConnectFailure:
    async def test_a_signed_in_user_is_offered_try_again(self, browser: Browser) -> None:
        started = await post_form(
            browser.client, "/dashboard/accounts", "/dashboard/accounts/connect"
        )
        assert started.status_code == 303
        state = httpx.URL(started.headers["location"]).params["state"]
        page = await browser.client.get(
            "/connect/tiktok/callback",
            params={
                "state": state,
                "error": "access_denied",
                "error_description": "The user denied the request",
            },
        )
        assert_styled(page, 400, "Could not connect TikTok")
        assert "You declined access" in page.text
        assert 'action="/dashboard/accounts/connect"' in page.text
        assert 'id="try-again"' in page.text
        # The button works: a fresh Connect TikTok starts.
        again = await browser.client.post(
            "/dashboard/accounts/connect", data={"csrf_token": csrf_of(page)}
        )
        assert again.status_code == 303
        assert httpx.URL(again.headers["location"]).params["state"] != state

    async def test_without_a_session_it_says_how_to_try_again(
        self, client: httpx.AsyncClient
    ) -> None:
        page = await client.get("/connect/tiktok/callback", params={"state": "unknown"})
        assert_styled(page, 400, "Could not connect TikTok")
        assert "Log in to try again" in page.text
        assert 'id="try-again"' not in page.text


class TestLanding:
    async def test_links_to_everything_in_the_dashboards_style(
        self, client: httpx.AsyncClient
    ) -> None:
        page = await client.get("/")
        assert_styled(page, 200, "ZakiPost")
        for href in ("/dashboard", "/dashboard/signup", "/docs", "/redoc", "/openapi.json"):
            assert f'href="{href}"' in page.text, href
        # The sandbox is linked only where it is mounted (it is in tests).
        assert 'href="/sandbox/_sandbox/posts"' in page.text

    async def test_its_links_answer(self, client: httpx.AsyncClient) -> None:
        for href in ("/docs", "/redoc", "/openapi.json", "/dashboard/signup", "/healthz"):
            assert (await client.get(href)).status_code == 200, href
