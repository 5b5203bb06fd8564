"""Sign up, log in (rate-limited in the database), sessions and their expiry, log out,
password change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.dashboard.conftest import Browser, csrf_of, log_in, post_form, sign_up
from tests.fixtures.app import AccountWithKeys, client_for, make_settings, running_app
from zakipost.dashboard import login_limit
from zakipost.models import DashboardSession


class TestSignUp:
    async def test_lands_on_the_getting_started_checklist(self, client: httpx.AsyncClient) -> None:
        response = await sign_up(client)
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/start"
        start = await client.get("/dashboard/start")
        assert start.status_code == 200
        assert "Log out" in start.text
        assert "Create an API key" in start.text

    async def test_session_cookie_is_http_only_and_same_site(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await sign_up(client)
        cookie = response.headers["set-cookie"].lower()
        assert "zp_session=" in cookie
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        # Not Secure outside production, so it works on http://127.0.0.1 in development.
        assert "secure" not in cookie

    async def test_duplicate_email_is_shown_next_to_the_field(
        self, client: httpx.AsyncClient
    ) -> None:
        await sign_up(client, "dup@example.com")
        client.cookies.clear()
        again = await sign_up(client, "dup@example.com")
        assert again.status_code == 400
        assert 'id="email-error"' in again.text
        assert 'aria-describedby="email-error"' in again.text
        assert "already exists" in again.text

    async def test_short_password_is_shown_next_to_its_field(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await sign_up(client, password="short")
        assert response.status_code == 400
        assert 'id="password-error"' in response.text
        assert "at least 8 characters" in response.text

    async def test_a_setting_closes_sign_up(self, tmp_path: Path, engine: AsyncEngine) -> None:
        settings = make_settings(tmp_path, security={"allow_signup": False})
        async with running_app(settings, engine) as app, client_for(app) as client:
            page = await client.get("/dashboard/signup")
            assert page.status_code == 403
            assert "Sign-up is closed" in page.text
            login = await client.get("/dashboard/login")
            assert "/dashboard/signup" not in login.text
            client.cookies.set("zp_csrf", "token")
            sent = await client.post(
                "/dashboard/signup",
                data={"email": "x@example.com", "password": "long enough", "csrf_token": "token"},
            )
            assert sent.status_code == 403


class TestLogin:
    async def test_wrong_password(self, client: httpx.AsyncClient, owner: AccountWithKeys) -> None:
        response = await log_in(client, owner.account.email, "wrong password")
        assert response.status_code == 400
        assert "do not match" in response.text

    async def test_logs_in_and_goes_where_it_was_asked(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        asked = await client.get("/dashboard/posts?status=failed")
        assert asked.status_code == 303
        login_url = asked.headers["location"]
        assert login_url == "/dashboard/login?next=/dashboard/posts%3Fstatus%3Dfailed"
        page = await client.get(login_url)
        response = await client.post(
            "/dashboard/login",
            data={
                "email": owner.account.email,
                "password": owner.password,
                "csrf_token": csrf_of(page),
                "next": "/dashboard/posts?status=failed",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/posts?status=failed"

    @pytest.mark.parametrize(
        "target", ["https://evil.example/", "//evil.example/x", "/dashboard/\\\\evil", "/v1/x"]
    )
    async def test_next_is_never_an_open_redirect(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, target: str
    ) -> None:
        page = await client.get("/dashboard/login")
        response = await client.post(
            "/dashboard/login",
            data={
                "email": owner.account.email,
                "password": owner.password,
                "csrf_token": csrf_of(page),
                "next": target,
            },
        )
        assert response.headers["location"] == "/dashboard/compose"

    async def test_pages_need_a_session(self, client: httpx.AsyncClient) -> None:
        for path in [
            "/dashboard/keys",
            "/dashboard/compose",
            "/dashboard/posts",
            "/dashboard/points",
        ]:
            response = await client.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/dashboard/login?next=")


class TestLoginRateLimit:
    async def test_too_many_failures_for_one_email_wait_with_a_clear_message(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        for _ in range(login_limit.PER_EMAIL):
            response = await log_in(client, owner.account.email, "wrong password")
            assert response.status_code == 400
        # Even the right password waits now: the limit is checked before the password.
        blocked = await log_in(client, owner.account.email, owner.password)
        assert blocked.status_code == 429
        assert "Too many failed log-ins for this email address" in blocked.text
        assert "Try again after" in blocked.text and "UTC (in 15 minutes)" in blocked.text
        assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
        # Other emails are not held back by this one.
        other = await log_in(client, "someone@example.com", "whatever pw")
        assert other.status_code == 400

    async def test_failures_age_out_of_the_window(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        for _ in range(login_limit.PER_EMAIL):
            await log_in(client, owner.account.email, "wrong password")
        from zakipost.models import RateBudgetUse

        async with sessionmaker() as session, session.begin():
            long_ago = dt.datetime.now(dt.UTC) - login_limit.WINDOW - dt.timedelta(seconds=1)
            await session.execute(update(RateBudgetUse).values(at=long_ago))
        response = await log_in(client, owner.account.email, owner.password)
        assert response.status_code == 303

    async def test_success_forgets_the_emails_failures(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        for _ in range(login_limit.PER_EMAIL - 1):
            await log_in(client, owner.account.email, "wrong password")
        assert (await log_in(client, owner.account.email, owner.password)).status_code == 303
        client.cookies.clear()
        for _ in range(login_limit.PER_EMAIL - 1):
            await log_in(client, owner.account.email, "wrong password")
        assert (await log_in(client, owner.account.email, owner.password)).status_code == 303

    async def test_too_many_failures_from_one_address(self, client: httpx.AsyncClient) -> None:
        for n in range(login_limit.PER_ADDRESS):
            response = await log_in(client, f"guess{n}@example.com", "wrong password")
            assert response.status_code == 400
        blocked = await log_in(client, "fresh@example.com", "wrong password")
        assert blocked.status_code == 429
        assert "from your network" in blocked.text

    async def test_counts_are_shared_by_every_web_process(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        engine: AsyncEngine,
        tmp_path: Path,
    ) -> None:
        for _ in range(login_limit.PER_EMAIL):
            await log_in(client, owner.account.email, "wrong password")
        # A second web app on the same database (another process, in production).
        settings = make_settings(tmp_path)
        async with running_app(settings, engine) as other, client_for(other) as second:
            blocked = await log_in(second, owner.account.email, owner.password)
        assert blocked.status_code == 429


class TestSessions:
    async def test_expired_session_goes_back_to_login(
        self, browser: Browser, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        assert (await browser.client.get("/dashboard/keys")).status_code == 200
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(DashboardSession).values(
                    expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
                )
            )
        response = await browser.client.get("/dashboard/keys")
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/login?next=/dashboard/keys&expired=1"
        login = await browser.client.get(response.headers["location"])
        assert "Your session has ended; log in again." in login.text

    async def test_a_forged_session_cookie_is_not_a_session(
        self, client: httpx.AsyncClient
    ) -> None:
        client.cookies.set("zp_session", "made-up")
        response = await client.get("/dashboard/keys")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/dashboard/login")

    async def test_log_out_ends_the_session(self, browser: Browser) -> None:
        cookie = browser.client.cookies.get("zp_session")
        response = await post_form(browser.client, "/dashboard/keys", "/dashboard/logout")
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/login"
        # The old cookie no longer opens anything, even if a browser kept it.
        browser.client.cookies.set("zp_session", cookie or "")
        assert (await browser.client.get("/dashboard/keys")).status_code == 303


class TestChangePassword:
    async def test_changes_it_and_signs_out_other_browsers(
        self, browser: Browser, app: FastAPI
    ) -> None:
        from tests.dashboard.conftest import signed_in_browser

        async for elsewhere in signed_in_browser(app, browser.owner):
            assert (await elsewhere.get("/dashboard/keys")).status_code == 200
            response = await post_form(
                browser.client,
                "/dashboard/settings",
                "/dashboard/settings/password",
                {
                    "current_password": browser.owner.password,
                    "new_password": "a new long password",
                    "new_password_again": "a new long password",
                },
            )
            assert response.status_code == 303
            page = await browser.client.get(response.headers["location"])
            assert "Password changed" in page.text
            assert (await elsewhere.get("/dashboard/keys")).status_code == 303
        browser.client.cookies.clear()
        old = await log_in(browser.client, browser.owner.account.email, browser.owner.password)
        assert old.status_code == 400
        new = await log_in(browser.client, browser.owner.account.email, "a new long password")
        assert new.status_code == 303

    @pytest.mark.parametrize(
        ("fields", "field", "text"),
        [
            ({"current_password": "wrong one"}, "current_password", "current password is wrong"),
            ({"new_password": "short", "new_password_again": "short"}, "new_password", "8"),
            ({"new_password_again": "something else"}, "new_password_again", "differ"),
        ],
    )
    async def test_errors_are_shown_next_to_their_field(
        self, browser: Browser, fields: dict[str, str], field: str, text: str
    ) -> None:
        data = {
            "current_password": browser.owner.password,
            "new_password": "a new long password",
            "new_password_again": "a new long password",
            **fields,
        }
        response = await post_form(
            browser.client, "/dashboard/settings", "/dashboard/settings/password", data
        )
        assert response.status_code == 400
        assert f'id="{field}-error"' in response.text
        assert text in response.text
