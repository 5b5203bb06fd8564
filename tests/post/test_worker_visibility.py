"""A queued post says when it waits because no worker is alive, and shows the jobs that
drive it (read-only), so a stuck post can be understood without SQL."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.dashboard.conftest import log_in
from tests.fixtures.app import AccountWithKeys, create_account
from zakipost.config import Settings
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import Vault
from zakipost.post.schemas import WAITING_FOR_WORKER
from zakipost.worker import liveness

VIDEO_URL = "https://videos.example.com/clip.mp4"


@pytest.fixture
async def publish_id(client: httpx.AsyncClient, owner: AccountWithKeys) -> str:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    accepted = await client.post(
        "/v1/tiktok/publish",
        json={"video_url": VIDEO_URL, "tiktok_account_id": account_id},
        headers=owner.headers,
    )
    assert accepted.status_code == 200, accepted.text
    return str(accepted.json()["data"]["publish_id"])


async def a_worker_is_alive(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        await liveness.register(
            session, liveness.Presence(worker_id="alive", concurrency=1), now=utcnow()
        )


class TestWaitingForWorker:
    async def test_a_queued_post_with_no_live_worker_says_so(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        publish_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        post = (await client.get(f"/v1/tiktok/publish/{publish_id}", headers=owner.headers)).json()
        assert post["data"]["status"] == "queued"
        assert post["data"]["waiting_for"] == "worker"
        assert post["data"]["waiting_message"] == WAITING_FOR_WORKER
        listed = (await client.get("/v1/tiktok/publish", headers=owner.headers)).json()
        assert [p["waiting_for"] for p in listed["data"]["items"]] == ["worker"]

        await a_worker_is_alive(sessionmaker)
        post = (await client.get(f"/v1/tiktok/publish/{publish_id}", headers=owner.headers)).json()
        assert (post["data"]["waiting_for"], post["data"]["waiting_message"]) == (None, None)

    async def test_the_dashboard_says_so_too(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        publish_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await log_in(client, owner.account.email, owner.password)
        page = await client.get(f"/dashboard/posts/{publish_id}")
        assert page.status_code == 200
        assert 'id="waiting-for-worker"' in page.text
        listing = await client.get("/dashboard/posts")
        assert "no worker running" in listing.text

        await a_worker_is_alive(sessionmaker)
        page = await client.get(f"/dashboard/posts/{publish_id}/status")
        assert 'id="waiting-for-worker"' not in page.text


class TestPostJobs:
    async def test_the_jobs_of_a_post_read_only(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, publish_id: str
    ) -> None:
        response = await client.get(f"/v1/tiktok/publish/{publish_id}/jobs", headers=owner.headers)
        assert response.status_code == 200, response.text
        [job] = response.json()["data"]
        assert job["kind"] == "publishing.run"
        assert (job["status"], job["attempts"], job["running"]) == ("todo", 0, False)
        assert job["lease_expires_at"] is None and job["last_error"] is None
        # Which worker holds a job is the operators' business (zakipost jobs), not callers'.
        assert "lease_owner" not in job and "payload" not in job

    async def test_another_accounts_post_is_not_found(
        self,
        client: httpx.AsyncClient,
        publish_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
    ) -> None:
        other_owner = await create_account(sessionmaker, settings, vault, email="b@example.com")
        response = await client.get(
            f"/v1/tiktok/publish/{publish_id}/jobs", headers=other_owner.headers
        )
        assert response.status_code == 404
        assert response.json()["code"] == "post_not_found"
