"""Webhook secrets: shown once, never in a list, a read, a page or a log; rotation signs with
both secrets during the overlap, then with the new one only."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from tests.dashboard.conftest import log_in
from tests.fixtures.app import AccountWithKeys
from tests.webhook.conftest import Received, Receiver, create_webhook, deliver_all
from zakipost.config import Settings
from zakipost.logging import configure_logging
from zakipost.worker import Worker


def signed_by(secret: str, request: Received) -> bool:
    """Whether one of the request's signatures is ``secret``'s (the timestamp's freshness
    aside: the worker's clock is moved in these tests)."""
    stamp = dt.datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), tz=dt.UTC)
    expected = Webhook(secret).sign(request.headers["webhook-id"], stamp, request.body.decode())
    return expected in request.headers["webhook-signature"].split(" ")


@pytest.fixture
def debug_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging("DEBUG")
    yield capsys
    root.handlers[:] = handlers
    root.setLevel(level)


class TestRotation:
    async def test_both_secrets_verify_during_the_overlap_and_only_the_new_one_after(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        receiver: Receiver,
        hook_worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        hooks_settings: Settings,
    ) -> None:
        hook = await create_webhook(client, owner, receiver.url())
        old = hook["secret"]
        rotated = await client.patch(
            f"/v1/webhooks/{hook['id']}",
            json={"rotate_secret": True, "overlap_seconds": 3600},
            headers=owner.headers,
        )
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["data"]["secret"]
        assert new.startswith("whsec_") and new != old
        assert rotated.json()["data"]["secret_rotated_at"] is not None

        await client.post(f"/v1/webhooks/{hook['id']}/test", headers=owner.headers)
        await deliver_all(hook_worker, sessionmaker)
        during = receiver.requests[-1]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        # A receiver holding either secret verifies (timestamp checked too: the clock is now).
        for secret in (old, new):
            assert Webhook(secret).verify(during.body, during.headers)["type"] == "webhook.test"

        hook_worker.clock.advance(3601)  # type: ignore[attr-defined]
        await client.post(f"/v1/webhooks/{hook['id']}/test", headers=owner.headers)
        await deliver_all(hook_worker, sessionmaker)
        after = receiver.requests[-1]
        assert after.headers["webhook-id"] != during.headers["webhook-id"]
        assert signed_by(new, after)
        assert not signed_by(old, after)

    async def test_a_rotation_without_overlap_drops_the_old_secret_at_once(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        receiver: Receiver,
        hook_worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        hooks_settings: Settings,
    ) -> None:
        hook = await create_webhook(client, owner, receiver.url())
        rotated = await client.patch(
            f"/v1/webhooks/{hook['id']}",
            json={"rotate_secret": True, "overlap_seconds": 0},
            headers=owner.headers,
        )
        await client.post(f"/v1/webhooks/{hook['id']}/test", headers=owner.headers)
        await deliver_all(hook_worker, sessionmaker)
        [request] = receiver.requests
        assert signed_by(rotated.json()["data"]["secret"], request)
        assert not signed_by(hook["secret"], request)


class TestSecretNeverShownAgain:
    async def test_not_in_lists_reads_pages_or_logs(
        self,
        debug_logs: pytest.CaptureFixture[str],
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        receiver: Receiver,
        hook_worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        hooks_settings: Settings,
    ) -> None:
        hook = await create_webhook(client, owner, receiver.url())
        rotated = await client.patch(
            f"/v1/webhooks/{hook['id']}", json={"rotate_secret": True}, headers=owner.headers
        )
        secrets = [hook["secret"], rotated.json()["data"]["secret"]]
        await client.post(f"/v1/webhooks/{hook['id']}/test", headers=owner.headers)
        await deliver_all(hook_worker, sessionmaker)

        shown = [
            (await client.get("/v1/webhooks", headers=owner.headers)).text,
            (await client.get(f"/v1/webhooks/{hook['id']}", headers=owner.headers)).text,
            (
                await client.patch(
                    f"/v1/webhooks/{hook['id']}",
                    json={"description": "x"},
                    headers=owner.headers,
                )
            ).text,
            (await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=owner.headers)).text,
        ]
        login = await log_in(client, "owner@example.com", owner.password)
        assert login.status_code == 303, login.text
        page = await client.get("/dashboard/webhooks")
        assert page.status_code == 200
        assert hook["id"] in page.text
        shown.append(page.text)
        shown.append(debug_logs.readouterr().out)
        for text in shown:
            for secret in secrets:
                assert secret not in text
                assert secret.removeprefix("whsec_") not in text
