"""Log-ins under load: the limit holds for parallel attempts, and argon2 runs off the event
loop with no database connection held (sign-up, log-in, the unknown-email path, password
change)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.dashboard.conftest import csrf_of, log_in, post_form, sign_up
from tests.fixtures.app import AccountWithKeys
from zakipost.dashboard import login_limit
from zakipost.kit import passwords

PARALLEL = 30


async def parallel_logins(
    client: httpx.AsyncClient, emails: list[str], password: str
) -> list[httpx.Response]:
    page = await client.get("/dashboard/login")
    token = csrf_of(page)
    return await asyncio.gather(
        *(
            client.post(
                "/dashboard/login",
                data={"email": email, "password": password, "csrf_token": token},
            )
            for email in emails
        )
    )


@dataclass
class HashCalls:
    """Where each argon2 hash or check ran: its thread, and the connections checked out."""

    engine: AsyncEngine
    calls: list[tuple[str, int, int]] = field(default_factory=list)

    def wrap(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(*args: Any) -> Any:
            pool = self.engine.sync_engine.pool
            self.calls.append((name, threading.get_ident(), pool.checkedout()))  # type: ignore[attr-defined]
            return real(*args)

        return recorded


@pytest.fixture
def hash_calls(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> HashCalls:
    calls = HashCalls(engine)
    monkeypatch.setattr(passwords, "hash_password", calls.wrap("hash", passwords.hash_password))
    monkeypatch.setattr(
        passwords, "verify_password", calls.wrap("verify", passwords.verify_password)
    )
    return calls


def assert_off_loop_and_outside_transactions(calls: HashCalls, *names: str) -> None:
    loop_thread = threading.get_ident()
    assert [name for name, _, _ in calls.calls] == list(names)
    for name, thread, checked_out in calls.calls:
        assert thread != loop_thread, f"{name} ran on the event loop"
        assert checked_out == 0, f"{name} ran with {checked_out} database connection(s) held"


class TestParallelAttempts:
    async def test_parallel_wrong_passwords_evaluate_at_most_the_email_limit(
        self, app: FastAPI, client: httpx.AsyncClient, owner: AccountWithKeys, hash_calls: HashCalls
    ) -> None:
        responses = await parallel_logins(
            client, [owner.account.email] * PARALLEL, "wrong password"
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [400] * login_limit.PER_EMAIL + [429] * (
            PARALLEL - login_limit.PER_EMAIL
        )
        # Exactly as many passwords were checked as attempts were let through.
        assert len(hash_calls.calls) == login_limit.PER_EMAIL

    async def test_parallel_attempts_from_one_address_evaluate_at_most_its_limit(
        self, client: httpx.AsyncClient, hash_calls: HashCalls
    ) -> None:
        emails = [f"guess{n}@example.com" for n in range(PARALLEL)]
        responses = await parallel_logins(client, emails, "wrong password")
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [400] * login_limit.PER_ADDRESS + [429] * (
            PARALLEL - login_limit.PER_ADDRESS
        )
        assert all("from your network" in r.text for r in responses if r.status_code == 429)
        assert len(hash_calls.calls) == login_limit.PER_ADDRESS

    async def test_a_success_is_not_counted_against_the_address(
        self, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        for _ in range(login_limit.PER_ADDRESS):
            assert (await log_in(client, owner.account.email, owner.password)).status_code == 303
            client.cookies.clear()
        other = await log_in(client, "someone@example.com", "wrong password")
        assert other.status_code == 400


class TestHashingOffTheLoop:
    async def test_sign_up(self, client: httpx.AsyncClient, hash_calls: HashCalls) -> None:
        assert (await sign_up(client)).status_code == 303
        assert_off_loop_and_outside_transactions(hash_calls, "hash")

    async def test_log_in(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, hash_calls: HashCalls
    ) -> None:
        assert (await log_in(client, owner.account.email, "wrong password")).status_code == 400
        assert (await log_in(client, owner.account.email, owner.password)).status_code == 303
        assert_off_loop_and_outside_transactions(hash_calls, "verify", "verify")

    async def test_an_unknown_email_spends_a_check_off_the_loop(
        self, client: httpx.AsyncClient, hash_calls: HashCalls
    ) -> None:
        assert (await log_in(client, "nobody@example.com", "some password")).status_code == 400
        assert_off_loop_and_outside_transactions(hash_calls, "verify")

    async def test_password_change(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, hash_calls: HashCalls
    ) -> None:
        assert (await log_in(client, owner.account.email, owner.password)).status_code == 303
        response = await post_form(
            client,
            "/dashboard/settings",
            "/dashboard/settings/password",
            {
                "current_password": owner.password,
                "new_password": "a new long password",
                "new_password_again": "a new long password",
            },
        )
        assert response.status_code == 303
        assert_off_loop_and_outside_transactions(hash_calls, "verify", "verify", "hash")
