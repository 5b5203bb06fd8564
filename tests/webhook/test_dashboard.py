"""The dashboard's Webhooks page: the secret shown once at creation, a banner for an endpoint
ZakiPost switched off, test events and retries from the deliveries log."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.dashboard.conftest import log_in, post_form
from tests.fixtures.app import AccountWithKeys
from tests.webhook.conftest import Receiver, deliver_all
from zakipost.config import Settings
from zakipost.models import WebhookDelivery, WebhookEndpoint
from zakipost.worker import Worker


async def test_create_switch_off_banner_test_and_retry(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    receiver: Receiver,
    hook_worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    hooks_settings: Settings,
) -> None:
    assert (await log_in(client, "owner@example.com", owner.password)).status_code == 303
    created = await post_form(
        client,
        "/dashboard/webhooks",
        "/dashboard/webhooks",
        {"url": receiver.url(), "events": ["post.published", "post.failed"]},
    )
    assert created.status_code == 200, created.text
    secret = re.search(r'<code id="new-secret">(whsec_[^<]+)</code>', created.text)
    assert secret is not None
    assert secret.group(1) not in (await client.get("/dashboard/webhooks")).text
    async with sessionmaker() as session:
        endpoint = (await session.scalars(select(WebhookEndpoint))).one()
    assert endpoint.events == ["post.published", "post.failed"]

    refused = await post_form(
        client, "/dashboard/webhooks", "/dashboard/webhooks", {"url": "ftp://example.com/x"}
    )
    assert refused.status_code == 400
    assert "must start with" in refused.text

    tested = await post_form(
        client, "/dashboard/webhooks", f"/dashboard/webhooks/{endpoint.id}/test"
    )
    assert tested.status_code == 303
    await deliver_all(hook_worker, sessionmaker)
    log = await client.get(f"/dashboard/webhooks/{endpoint.id}")
    assert "webhook.test" in log.text and "succeeded" in log.text
    async with sessionmaker() as session:
        delivery = (await session.scalars(select(WebhookDelivery))).one()
    retried = await post_form(
        client,
        f"/dashboard/webhooks/{endpoint.id}",
        f"/dashboard/webhooks/{endpoint.id}/deliveries/{delivery.id}/retry",
    )
    assert retried.status_code == 303
    await deliver_all(hook_worker, sessionmaker)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(delivery.id)] * 2

    # As the delivery step leaves an endpoint whose deliveries failed for the whole window.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(WebhookEndpoint).values(
                enabled=False, disabled_reason="no delivery succeeded for 3 days"
            )
        )
    page = await client.get("/dashboard/webhooks")
    assert 'role="alert"' in page.text and "no delivery succeeded for 3 days" in page.text
    switched = await post_form(
        client,
        "/dashboard/webhooks",
        f"/dashboard/webhooks/{endpoint.id}/enabled",
        {"enabled": "true"},
    )
    assert switched.status_code == 303
    assert "no delivery succeeded" not in (await client.get("/dashboard/webhooks")).text
