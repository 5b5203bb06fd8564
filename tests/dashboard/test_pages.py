"""The minimal dashboard: sign-up, keys, Connect TikTok, CSRF."""

from __future__ import annotations

import re

import httpx

from tests.fixtures.consent import consent


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def sign_up(client: httpx.AsyncClient, email: str = "new@example.com") -> httpx.Response:
    page = await client.get("/dashboard/signup")
    return await client.post(
        "/dashboard/signup",
        data={"email": email, "password": "long enough pw", "csrf_token": csrf_of(page)},
    )


class TestSignUp:
    async def test_sign_up_lands_on_the_keys_page(self, client: httpx.AsyncClient) -> None:
        response = await sign_up(client)
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/keys"
        keys = await client.get("/dashboard/keys")
        assert keys.status_code == 200
        assert re.search(r"zp_key_[a-z0-9]{32}", keys.text)
        assert re.search(r'id="client-secret">[A-Za-z0-9]{40}<', keys.text)
        assert keys.headers["cache-control"] == "no-store"

    async def test_session_cookie_is_http_only_and_same_site(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await sign_up(client)
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie

    async def test_duplicate_email_is_shown_next_to_the_field(
        self, client: httpx.AsyncClient
    ) -> None:
        await sign_up(client, "dup@example.com")
        client.cookies.clear()
        again = await sign_up(client, "dup@example.com")
        assert again.status_code == 400
        assert 'id="email-error"' in again.text
        assert "already exists" in again.text

    async def test_form_without_csrf_token_is_refused(self, client: httpx.AsyncClient) -> None:
        await client.get("/dashboard/signup")
        response = await client.post(
            "/dashboard/signup", data={"email": "x@example.com", "password": "long enough pw"}
        )
        assert response.status_code == 403


class TestLogin:
    async def test_wrong_password(self, client: httpx.AsyncClient, owner) -> None:
        page = await client.get("/dashboard/login")
        response = await client.post(
            "/dashboard/login",
            data={
                "email": owner.account.email,
                "password": "wrong password",
                "csrf_token": csrf_of(page),
            },
        )
        assert response.status_code == 400
        assert "do not match" in response.text

    async def test_pages_need_a_session(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/dashboard/keys")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/dashboard/login")


class TestConnectTikTok:
    async def test_connect_from_the_dashboard(self, client: httpx.AsyncClient) -> None:
        await sign_up(client)
        accounts = await client.get("/dashboard/accounts")
        assert "Connect TikTok" in accounts.text
        started = await client.post(
            "/dashboard/accounts/connect", data={"csrf_token": csrf_of(accounts)}
        )
        assert started.status_code == 303
        result = await consent(client, started.headers["location"])
        back = await client.get(result.location)
        assert back.status_code == 303
        assert back.headers["location"] == "/dashboard/accounts?connected=1"
        page = await client.get(back.headers["location"])
        assert "TikTok account connected." in page.text
        assert "data-tiktok-account-id" in page.text
        assert "act." not in page.text and "rft." not in page.text
