"""A worker process SIGKILLed while it delivers an event loses nothing: the change and its
delivery job committed together, the dead worker's lease expires, and another worker sends
the event again with the same webhook-id (at least once)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.fixtures.app import TEST_MASTER_KEY, AccountWithKeys
from tests.fixtures.clock import OffsetClock
from tests.fixtures.pipeline import app_deps
from tests.webhook.conftest import Receiver, create_webhook, deliver_all
from zakipost.config import Settings
from zakipost.models import DeliveryStatus, WebhookDelivery
from zakipost.runtime import build_worker

# A bound on waiting for the worker process to reach the receiver, not a timed assertion.
GUARD = 120
LEASE_SECONDS = 5


def spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "zakipost", "worker", "--concurrency", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def test_a_worker_killed_mid_delivery_loses_no_event(
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    hooks_settings: Settings,
    database_urls: dict[str, str],
    dialect: str,
    tmp_path: Path,
) -> None:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    hook = await create_webhook(client, owner, receiver.url(), events=["connection.revoked"])
    # The receiver holds the first request open: the worker is mid-delivery when it dies.
    receiver.hold.clear()
    gone = await client.delete(f"/v1/tiktok/accounts/{account_id}", headers=owner.headers)
    assert gone.status_code == 200, gone.text

    env = {
        **os.environ,
        "ZAKIPOST_ENV": "testing",
        "ZAKIPOST_DATABASE_URL": database_urls[dialect],
        "ZAKIPOST_DATA_DIR": str(tmp_path / "worker-data"),
        # A worker apart from the web refuses a store it cannot share (zakipost.layout).
        "ZAKIPOST_STORAGE_LOCAL_DIR": str(tmp_path / "store"),
        "ZAKIPOST_SECURITY_MASTER_KEYS": TEST_MASTER_KEY,
        "ZAKIPOST_TIKTOK_SANDBOX_URL": "http://127.0.0.1:9",
        "ZAKIPOST_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
        "ZAKIPOST_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "ZAKIPOST_WORKER_POLL_INTERVAL_SECONDS": "0.5",
        "ZAKIPOST_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "worker.log"
    process = spawn_worker(env, log)
    try:
        reached = await asyncio.to_thread(receiver.seen.wait, GUARD)
        assert reached, log.read_text()[-2000:]
    finally:
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, GUARD)
        receiver.hold.set()
    assert process.returncode == -signal.SIGKILL

    # Another worker, its clock past the dead worker's lease, takes the job over.
    clock = OffsetClock()
    recovery = build_worker(app_deps(app, clock=clock), concurrency=2)
    clock.advance(LEASE_SECONDS * 3)
    await deliver_all(recovery, sessionmaker)

    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert json.loads(second.body)["type"] == "connection.revoked"
    async with sessionmaker() as session:
        delivery = await session.get(WebhookDelivery, uuid.UUID(second.headers["webhook-id"]))
    assert delivery is not None
    assert delivery.status is DeliveryStatus.succeeded
    # The killed attempt never reported back: only the one that did is counted.
    assert delivery.attempts == 1
    assert str(delivery.endpoint_id) == hook["id"]
