"""The deliveries log keeps a month of settled deliveries, and every pending one."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import AccountWithKeys
from tests.webhook.conftest import Receiver, create_webhook, deliver_all
from zakipost.config import Settings
from zakipost.kit.clock import utcnow
from zakipost.maintenance.tasks import PRUNE_TASK
from zakipost.models import DeliveryStatus, WebhookDelivery
from zakipost.worker import Worker, enqueue


async def test_settled_deliveries_older_than_a_month_are_pruned(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    receiver: Receiver,
    hook_worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    hooks_settings: Settings,
) -> None:
    hook = await create_webhook(client, owner, receiver.url())
    for _ in range(3):
        await client.post(f"/v1/webhooks/{hook['id']}/test", headers=owner.headers)
    await deliver_all(hook_worker, sessionmaker)
    async with sessionmaker() as session, session.begin():
        old, recent, pending = (await session.scalars(select(WebhookDelivery.id))).all()
        month_ago = utcnow() - dt.timedelta(days=31)
        await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == old).values(updated_at=month_ago)
        )
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == pending)
            .values(status=DeliveryStatus.pending, updated_at=month_ago)
        )
        await enqueue(session, PRUNE_TASK, {})
    await hook_worker.run_until_idle()
    async with sessionmaker() as session:
        left = set((await session.scalars(select(WebhookDelivery.id))).all())
    assert left == {recent, pending}
