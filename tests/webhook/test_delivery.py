"""Webhooks against the sandbox through the running app: recorded events reach each
subscribed endpoint once, signed; retries keep the webhook-id; a dead receiver ends in a
failed delivery and a disabled endpoint; the address guard holds at creation and delivery."""

from __future__ import annotations

import json
import uuid
from typing import Any, get_args

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from tests.connection.conftest import connect_via_api
from tests.dashboard.conftest import log_in
from tests.fixtures.app import AccountWithKeys, create_account
from tests.fixtures.clock import OffsetClock
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import app_deps
from tests.sandbox.media import make_video
from tests.webhook.conftest import Receiver, create_webhook, deliver_all
from zakipost import events
from zakipost.config import Settings
from zakipost.kit.crypto import Vault
from zakipost.metrics import REGISTRY
from zakipost.models import Connection, Post, WebhookDelivery
from zakipost.runtime import build_worker
from zakipost.worker import Worker

ALL_EVENTS = get_args(events.EventType)


def verify(secret: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(secret).verify(body, headers)
    return payload


async def deliveries_log(
    client: httpx.AsyncClient, owner: AccountWithKeys, webhook_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=owner.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return items


class TestEveryEvent:
    async def test_each_event_reaches_each_subscribed_endpoint_once_signed(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        receiver: Receiver,
        hook_worker: Worker,
        media_server: MediaServer,
        sessionmaker: async_sessionmaker[AsyncSession],
        hooks_settings: Settings,
        vault: Vault,
    ) -> None:
        everything = await create_webhook(client, owner, receiver.url("/all"))
        published_only = await create_webhook(
            client, owner, receiver.url("/published"), events=["post.published"]
        )
        other = await create_account(sessionmaker, hooks_settings, vault, email="o@example.com")
        await create_webhook(client, other, receiver.url("/other"))

        # Through the app: a connection, a video published by the pipeline, a disconnect.
        account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
        (media_server.root / "clip.mp4").write_bytes(make_video(seconds=4))
        response = await client.post(
            "/v1/tiktok/publish",
            json={
                "video_url": media_server.url("clip.mp4"),
                "tiktok_account_id": account_id,
                "title": "webhooks",
                "privacy_level": "SELF_ONLY",
            },
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        publish_id = response.json()["data"]["publish_id"]
        await deliver_all(hook_worker, sessionmaker)
        gone = await client.delete(f"/v1/tiktok/accounts/{account_id}", headers=owner.headers)
        assert gone.status_code == 200, gone.text

        # The types no sandbox run produces here are recorded as their sources record them.
        async with sessionmaker() as session, session.begin():
            post = (await session.scalars(select(Post))).one()
            connection = (await session.scalars(select(Connection))).one()
            seen = {"post.published", "connection.connected", "connection.revoked"}
            for name in ALL_EVENTS:
                if name in seen:
                    continue
                kind, subject = (
                    ("post", post.id) if name.startswith("post.") else ("connection", connection.id)
                )
                events.record(session, events.DomainEvent(name, owner.account.id, kind, subject))
        await deliver_all(hook_worker, sessionmaker)

        got = [verify(everything["secret"], r.body, r.headers) for r in receiver.at("/all")]
        assert sorted(p["type"] for p in got) == sorted(ALL_EVENTS)
        published = next(p for p in got if p["type"] == "post.published")
        assert published["data"]["publish_id"] == publish_id
        assert published["data"]["status"] == "published"
        assert {"timestamp", "event_id"} <= published.keys()
        connected = next(p for p in got if p["type"] == "connection.connected")
        assert connected["data"]["tiktok_account_id"] == account_id
        only = [
            verify(published_only["secret"], r.body, r.headers) for r in receiver.at("/published")
        ]
        assert [p["type"] for p in only] == ["post.published"]
        # One event, two endpoints: one event id, two webhook-ids.
        assert only[0]["event_id"] == published["event_id"]
        assert receiver.at("/published")[0].headers["webhook-id"] != next(
            r.headers["webhook-id"]
            for r in receiver.at("/all")
            if json.loads(r.body)["type"] == "post.published"
        )
        assert receiver.at("/other") == []
        log = await deliveries_log(client, owner, everything["id"])
        assert len(log) == len(ALL_EVENTS)
        assert {d["status"] for d in log} == {"succeeded"}
        assert {d["attempts"] for d in log} == {1}

    async def test_a_rolled_back_change_sends_nothing(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        receiver: Receiver,
        hook_worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        hooks_settings: Settings,
    ) -> None:
        await create_webhook(client, owner, receiver.url())
        async with sessionmaker() as session:
            # The change is made, then rolled back; the session's next transaction commits.
            await session.execute(select(Post.id))
            events.record(
                session,
                events.DomainEvent("post.failed", owner.account.id, "post", uuid.uuid4()),
            )
            await session.rollback()
            await session.execute(select(Post.id))
            await session.commit()
        await deliver_all(hook_worker, sessionmaker)
        assert receiver.requests == []


class TestRetries:
    async def test_three_500s_then_200_delivers_on_the_fourth_attempt_with_one_webhook_id(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        receiver: Receiver,
        hook_worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        hooks_settings: Settings,
    ) -> None:
        hook = await create_webhook(client, owner, receiver.url())
        receiver.answers = [500, 500, 500]
        before = {o: _counted(o) for o in ("delivered", "retrying")}
        sent = await client.post(f"/v1/webhooks/{hook['id']}/test", headers=owner.headers)
        assert sent.status_code == 202, sent.text
        await deliver_all(hook_worker, sessionmaker)
        assert _counted("retrying") - before["retrying"] == 3
        assert _counted("delivered") - before["delivered"] == 1

        assert len(receiver.requests) == 4
        ids = {r.headers["webhook-id"] for r in receiver.requests}
        assert ids == {sent.json()["data"]["id"]}
        assert len({r.body for r in receiver.requests}) == 1
        stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.requests]
        assert stamps == sorted(stamps) and stamps[0] < stamps[-1]
        for r in receiver.requests:
            assert verify(hook["secret"], r.body, r.headers)["type"] == "webhook.test"
        [delivery] = await deliveries_log(client, owner, hook["id"])
        assert delivery["status"] == "succeeded"
        assert delivery["attempts"] == 4
        assert delivery["last_status_code"] == 200

    async def test_a_receiver_down_past_the_window_fails_the_delivery_and_disables_the_endpoint(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        receiver: Receiver,
        hook_worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        hooks_settings: Settings,
    ) -> None:
        hook = await create_webhook(client, owner, receiver.url())
        receiver.answers = [503] * 1000
        await client.post(f"/v1/webhooks/{hook['id']}/test", headers=owner.headers)
        await deliver_all(hook_worker, sessionmaker)

        [delivery] = await deliveries_log(client, owner, hook["id"])
        assert delivery["status"] == "failed"
        assert delivery["last_status_code"] == 503
        assert "Gave up after" in delivery["last_error"]
        assert delivery["attempts"] == len(receiver.requests) > 10
        async with sessionmaker() as session:
            row = await session.get(WebhookDelivery, uuid.UUID(delivery["id"]))
            assert row is not None and row.last_attempt_at is not None
            assert (row.last_attempt_at - row.created_at).total_seconds() >= (
                hooks_settings.webhooks.retry_window_seconds
            )
        endpoint = (await client.get(f"/v1/webhooks/{hook['id']}", headers=owner.headers)).json()[
            "data"
        ]
        assert endpoint["enabled"] is False
        assert "no delivery succeeded" in endpoint["disabled_reason"]
        assert (await log_in(client, "owner@example.com", owner.password)).status_code == 303
        page = await client.get("/dashboard/webhooks")
        assert "was switched off" in page.text and "no delivery succeeded" in page.text
        failed_log = await client.get(f"/dashboard/webhooks/{hook['id']}")
        assert "Gave up after" in failed_log.text

        # Nothing more is sent to a disabled endpoint; a retry after fixing it delivers.
        receiver.answers = []
        again = await client.patch(
            f"/v1/webhooks/{hook['id']}", json={"enabled": True}, headers=owner.headers
        )
        assert again.json()["data"]["disabled_reason"] is None
        retried = await client.post(
            f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/retry", headers=owner.headers
        )
        assert retried.status_code == 200, retried.text
        await deliver_all(hook_worker, sessionmaker)
        [delivery] = await deliveries_log(client, owner, hook["id"])
        assert delivery["status"] == "succeeded"
        assert receiver.requests[-1].headers["webhook-id"] == delivery["id"]


class TestAddressGuard:
    async def test_a_private_address_is_refused_at_creation(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, settings: Settings
    ) -> None:
        for url in ("https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://169.254.169.254/"):
            response = await client.post("/v1/webhooks", json={"url": url}, headers=owner.headers)
            assert response.status_code == 422, response.text
            assert "public internet addresses" in response.json()["message"]
        plain = await client.post(
            "/v1/webhooks", json={"url": "http://hooks.example.com/x"}, headers=owner.headers
        )
        assert plain.status_code == 422
        assert "https://" in plain.json()["message"]
        assert (await client.get("/v1/webhooks", headers=owner.headers)).json()["data"] == []

    async def test_dns_moved_to_a_private_address_is_refused_at_delivery_with_nothing_sent(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        receiver: Receiver,
        settings: Settings,
    ) -> None:
        answers = {"hooks.example.com": "93.184.216.34"}

        async def dns(host: str, port: int) -> list[str]:
            return [answers[host]]

        app.state.webhook_resolver = dns
        # The worker resolves through the same fake DNS.
        worker = build_worker(app_deps(app, clock=OffsetClock(), webhook_resolver=dns))
        hook = await create_webhook(client, owner, "https://hooks.example.com/hook")
        answers["hooks.example.com"] = "127.0.0.1"
        await client.post(f"/v1/webhooks/{hook['id']}/test", headers=owner.headers)
        await worker.run_until_idle()
        assert receiver.requests == []
        [delivery] = await deliveries_log(client, owner, hook["id"])
        assert delivery["status"] == "pending"
        assert delivery["last_status_code"] is None
        assert "Not sent" in delivery["last_error"] and "loopback" in delivery["last_error"]


class TestEvents:
    async def test_unknown_event_names_are_refused_with_the_valid_ones(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, hooks_settings: Settings
    ) -> None:
        response = await client.post(
            "/v1/webhooks",
            json={"url": "http://127.0.0.1:9/x", "events": ["post.published", "post.exploded"]},
            headers=owner.headers,
        )
        assert response.status_code == 422
        body = response.json()
        assert "post.exploded" in body["message"] and "connection.expiring" in body["message"]
        assert body["details"]["valid"] == list(ALL_EVENTS)


def _counted(outcome: str) -> float:
    value = REGISTRY.get_sample_value("zakipost_webhook_deliveries_total", {"outcome": outcome})
    return value or 0.0
