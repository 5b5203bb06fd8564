"""POST /tiktok/webhook against the sandbox: TikTok's signed events advance posts and
connections through the same rules as polling; bad, stale and repeated ones change nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.e2e.test_publish_flow import publish, put, read
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from zakipost.billing import points
from zakipost.composition import own_webhook_url
from zakipost.config import Settings
from zakipost.models import Connection, ConnectionStatus, Job, JobStatus, Post, TikTokWebhookEvent
from zakipost.publishing.deps import PipelineDeps
from zakipost.publishing.machine import LINK_TASK
from zakipost.worker import Worker

URL = "/tiktok/webhook"


def signed(secret: str, body: str, *, at: int | None = None) -> dict[str, str]:
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return {"TikTok-Signature": f"t={t},s={mac}", "Content-Type": "application/json"}


def event_body(event: str, open_id: str, **content: Any) -> str:
    return json.dumps(
        {
            "client_key": "sbawzakipostsandbx",
            "event": event,
            "create_time": int(time.time()),
            "user_openid": open_id,
            "content": json.dumps(content),
        }
    )


@pytest.fixture
def secret(app: FastAPI) -> str:
    value: str = app.state.tiktok_client_secret
    return value


@pytest.fixture
async def account_id(client: httpx.AsyncClient, owner: AccountWithKeys) -> str:
    return (await connect_via_api(client, owner))["tiktok_account_id"]


@pytest.fixture
def webhooks_on(sandbox: Any, settings: Settings) -> None:
    """The sandbox sends its webhooks to ZakiPost's own endpoint (the embedded default)."""
    sandbox.configure(webhook_url=own_webhook_url(settings))


async def _post_row(sessionmaker: async_sessionmaker[AsyncSession], publish_id: str) -> Post:
    async with sessionmaker() as session:
        post = await session.scalar(select(Post).where(Post.publish_id == publish_id))
    assert post is not None
    return post


async def _awaiting_tiktok(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    account_id: str,
    media_server: MediaServer,
    sandbox: Any,
    worker: Worker,
    **fields: Any,
) -> str:
    """A post TikTok has received and processes for 30 s (its time), polled once."""
    sandbox.configure(progression="time", processing_delay_seconds=30.0)
    publish_id = await publish(
        client,
        owner,
        video_url=put(media_server, "clip.mp4", make_video(seconds=3)),
        tiktok_account_id=account_id,
        **fields,
    )
    await worker.run_until_idle()
    return publish_id


async def move_job(sessionmaker: async_sessionmaker[AsyncSession], run_at: dt.datetime) -> None:
    """Put the post's next poll at ``run_at``."""
    async with sessionmaker() as session, session.begin():
        job = await session.scalar(select(Job).where(Job.kind == "publishing.run"))
        assert job is not None
        job.run_at = run_at


async def delivered(sandbox: Any, rounds: int = 500) -> None:
    """Let the sandbox deliver its queued webhooks (bounded by rounds, not by a deadline);
    each must have been answered 200."""
    for _ in range(rounds):
        if sandbox.webhooks.idle:
            break
        await asyncio.sleep(0.01)
    states = [d.state for d in sandbox.webhooks.deliveries]
    assert states and set(states) == {"delivered"}, [
        d.to_dict() for d in sandbox.webhooks.deliveries
    ]


async def _next_poll(sessionmaker: async_sessionmaker[AsyncSession]) -> Job:
    async with sessionmaker() as session:
        job = await session.scalar(select(Job).where(Job.kind == "publishing.run"))
    assert job is not None
    return job


class TestSignature:
    async def test_a_bad_signature_is_refused_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        sandbox: Any,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret: str,
    ) -> None:
        publish_id = await _awaiting_tiktok(
            client, owner, account_id, media_server, sandbox, worker
        )
        post = await _post_row(sessionmaker, publish_id)
        body = event_body(
            "post.publish.complete", "x", publish_id=post.tiktok_publish_id, publish_type="DIRECT"
        )
        for headers in (
            signed("not-the-secret", body),
            {"TikTok-Signature": "t=1,s=00"},
            {},
        ):
            response = await client.post(URL, content=body, headers=headers)
            assert response.status_code == 401, response.text
            assert response.json()["code"] == "invalid_tiktok_signature"
        assert (await _post_row(sessionmaker, publish_id)).status.value == "processing"
        async with sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(TikTokWebhookEvent)) == 0

    async def test_a_stale_signature_is_refused(
        self, client: httpx.AsyncClient, secret: str, settings: Settings
    ) -> None:
        body = event_body("post.publish.complete", "x", publish_id="p")
        old = int(time.time() - settings.tiktok.webhook_tolerance_seconds - 60)
        response = await client.post(URL, content=body, headers=signed(secret, body, at=old))
        assert response.status_code == 401

    async def test_a_signed_body_that_is_not_an_event_is_a_400(
        self, client: httpx.AsyncClient, secret: str
    ) -> None:
        response = await client.post(URL, content="[1]", headers=signed(secret, "[1]"))
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_tiktok_webhook"


class TestPosts:
    async def test_the_sandbox_webhook_publishes_before_the_next_poll(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        sandbox: Any,
        worker: Worker,
        deps: PipelineDeps,
        sessionmaker: async_sessionmaker[AsyncSession],
        webhooks_on: None,
    ) -> None:
        publish_id = await _awaiting_tiktok(
            client,
            owner,
            account_id,
            media_server,
            sandbox,
            worker,
            privacy_level="PUBLIC_TO_EVERYONE",
        )
        before = await _post_row(sessionmaker, publish_id)
        assert (before.status.value, before.step and before.step.value) == (
            "processing",
            "awaiting_tiktok",
        )
        poll = await _next_poll(sessionmaker)
        assert poll.status is JobStatus.todo and poll.run_at > deps.clock()

        # TikTok finishes processing (its clock only; the worker's stands still) and says so.
        # TikTok finishes processing and says so; the poll is still an hour away.
        await move_job(sessionmaker, deps.clock() + dt.timedelta(hours=1))
        deps.clock.advance(31)  # type: ignore[attr-defined]
        sandbox.tick()
        await delivered(sandbox)

        after = await _post_row(sessionmaker, publish_id)
        assert after.status.value == "published"
        assert after.status_checks == before.status_checks  # no poll happened
        assert after.tiktok_post_ids == []  # moderation is not over
        # Moderation ends: post.publish.publicly_available brings the link.
        deps.clock.advance(sandbox.config.moderation_delay_seconds + 1)  # type: ignore[attr-defined]
        sandbox.tick()
        await delivered(sandbox)
        assert (await _post_row(sessionmaker, publish_id)).tiktok_post_ids

        # The poll, when it comes, finds the post ended and does nothing; so does the link job.
        await settle(worker, sessionmaker, kinds=("publishing.run", LINK_TASK), max_seconds=7200)
        shown = await read(client, owner, publish_id)
        messages = [e["message"] for e in shown["timeline"]]
        assert messages.count("Published on TikTok (TikTok's webhook).") == 1
        assert not any(m == "Published on TikTok." for m in messages)
        assert (await _post_row(sessionmaker, publish_id)).status_checks == before.status_checks
        assert shown["post_url"] and shown["post_url"].endswith(shown["tiktok_post_ids"][0])

    async def test_duplicates_are_applied_once(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        sandbox: Any,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret: str,
    ) -> None:
        publish_id = await _awaiting_tiktok(
            client, owner, account_id, media_server, sandbox, worker
        )
        post = await _post_row(sessionmaker, publish_id)
        body = event_body(
            "post.publish.publicly_available",
            "x",
            publish_id=post.tiktok_publish_id,
            post_id="7602997517160123666",
            publish_type="DIRECT_PUBLISH",
        )
        outcomes = []
        for _ in range(2):
            response = await client.post(URL, content=body, headers=signed(secret, body))
            assert response.status_code == 200, response.text
            outcomes.append(response.json()["data"]["outcome"])
        assert outcomes == ["link stored", "duplicate"]
        row = await _post_row(sessionmaker, publish_id)
        assert row.tiktok_post_ids == ["7602997517160123666"]
        timeline = (await read(client, owner, publish_id))["timeline"]
        assert [e["message"] for e in timeline].count("TikTok gave the post's public link.") == 1

    async def test_the_sandbox_webhook_publishes_a_draft_into_the_inbox(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        sandbox: Any,
        worker: Worker,
        deps: PipelineDeps,
        sessionmaker: async_sessionmaker[AsyncSession],
        webhooks_on: None,
    ) -> None:
        publish_id = await _awaiting_tiktok(
            client, owner, account_id, media_server, sandbox, worker, post_mode="draft"
        )
        await move_job(sessionmaker, deps.clock() + dt.timedelta(hours=1))
        deps.clock.advance(31)  # type: ignore[attr-defined]
        sandbox.tick()
        await delivered(sandbox)
        assert (await read(client, owner, publish_id))["status"] == "in_inbox"

    async def test_a_failure_fails_the_post_and_refunds_it_once(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        media_server: MediaServer,
        sandbox: Any,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret: str,
    ) -> None:
        publish_id = await _awaiting_tiktok(
            client, owner, account_id, media_server, sandbox, worker
        )
        post = await _post_row(sessionmaker, publish_id)
        async with sessionmaker() as session:
            charged = await points.balance(session, owner.account.id)
        for reason in ("internal", "internal"):
            # Two deliveries of the same failure, told apart by create_time: applied once.
            body = event_body(
                "post.publish.failed", "x", publish_id=post.tiktok_publish_id, reason=reason
            )
            body = body.replace('"create_time": ', '"create_time": 1')
            response = await client.post(URL, content=body, headers=signed(secret, body))
            assert response.status_code == 200
        shown = await read(client, owner, publish_id)
        assert shown["status"] == "failed"
        assert shown["points_charged"] == 0
        async with sessionmaker() as session:
            assert await points.balance(session, owner.account.id) == charged + shown["points_cost"]
        await settle(worker, sessionmaker)  # the poll finds it ended
        assert (await read(client, owner, publish_id))["status"] == "failed"

    async def test_an_unknown_publish_id_is_acknowledged(
        self, client: httpx.AsyncClient, secret: str
    ) -> None:
        body = event_body("post.publish.complete", "x", publish_id="v_pub_file~v2-1.1")
        response = await client.post(URL, content=body, headers=signed(secret, body))
        assert response.status_code == 200
        assert response.json()["data"]["outcome"] == "unknown publish_id"


class TestConnections:
    async def test_authorization_removed_revokes_the_connection(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        account_id: str,
        sandbox: Any,
        sessionmaker: async_sessionmaker[AsyncSession],
        webhooks_on: None,
    ) -> None:
        # The creator removes the app in TikTok; the sandbox tells ZakiPost.
        assert sandbox.revoke_creator("sandbox.creator", reason=1) == 1
        await delivered(sandbox)
        async with sessionmaker() as session:
            connection = await session.scalar(select(Connection))
        assert connection is not None
        assert connection.status is ConnectionStatus.revoked
        assert connection.access_token_encrypted is None
        assert "disconnected ZakiPost in the TikTok app" in (connection.status_reason or "")
        accounts = await client.get("/v1/tiktok/accounts", headers=owner.headers)
        [shown] = accounts.json()["data"]
        assert shown["status"] == "revoked"
        response = await client.post(
            "/v1/tiktok/publish",
            json={"tiktok_account_id": account_id, "video_url": "https://example.com/a.mp4"},
            headers=owner.headers,
        )
        assert response.status_code == 409
