"""``zakipost jobs``: list, show, retry, cancel and workers, through the CLI entry point
against the test database."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from tests.connection.conftest import connect_via_api
from tests.fixtures.app import TEST_MASTER_KEY, AccountWithKeys
from tests.worker.helpers import add_job, get_job
from zakipost.cli import app as cli
from zakipost.kit.clock import utcnow
from zakipost.models import Job, JobStatus
from zakipost.worker import liveness


class Cli:
    def __init__(self, engine: AsyncEngine, tmp_path: Path) -> None:
        self.env = {
            "ZAKIPOST_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "ZAKIPOST_DATA_DIR": str(tmp_path / "cli-data"),
            "ZAKIPOST_SECURITY_MASTER_KEYS": TEST_MASTER_KEY,
            "ZAKIPOST_LOG_LEVEL": "WARNING",
            # Messages on one line each, whatever the terminal.
            "COLUMNS": "500",
        }

    async def __call__(self, *args: str) -> Result:
        # The commands run their own event loop: off this test's loop, in a thread.
        runner = CliRunner()
        return await asyncio.to_thread(lambda: runner.invoke(cli, ["jobs", *args], env=self.env))

    async def json(self, *args: str) -> Any:
        result = await self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.output)


@pytest.fixture
def run(engine: AsyncEngine, tmp_path: Path) -> Cli:
    return Cli(engine, tmp_path)


@pytest.fixture
async def publish_id(client: httpx.AsyncClient, owner: AccountWithKeys) -> str:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    accepted = await client.post(
        "/v1/tiktok/publish",
        json={"video_url": "https://videos.example.com/a.mp4", "tiktok_account_id": account_id},
        headers=owner.headers,
    )
    assert accepted.status_code == 200, accepted.text
    return str(accepted.json()["data"]["publish_id"])


class TestListAndShow:
    async def test_a_posts_job_with_its_post(self, run: Cli, publish_id: str) -> None:
        jobs = await run.json("list", "--post", publish_id)
        [job] = jobs
        assert job["kind"] == "publishing.run"
        assert (job["status"], job["attempts"], job["lease_owner"]) == ("todo", 0, None)
        assert job["post"] == {"publish_id": publish_id, "status": "queued", "step": None}

        shown = await run.json("show", job["id"])
        assert shown == job
        text = await run("show", job["id"])
        assert text.exit_code == 0 and f"post: {publish_id} (queued" in text.output

    async def test_filters_by_kind_and_state(
        self, run: Cli, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        first = await add_job(sessionmaker, "demo.one")
        second = await add_job(sessionmaker, "demo.two")
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Job)
                .where(Job.id == second)
                .values(status=JobStatus.failed, last_error="TransientJobError: boom")
            )
        assert [j["id"] for j in await run.json("list", "--kind", "demo.one")] == [str(first)]
        [failed] = await run.json("list", "--state", "failed")
        assert (failed["id"], failed["last_error"]) == (str(second), "TransientJobError: boom")
        assert await run.json("list", "--kind", "demo.one", "--state", "failed") == []
        table = await run("list")
        assert table.exit_code == 0 and "demo.two" in table.output

    async def test_a_running_job_shows_its_lease_and_whether_it_expired(
        self, run: Cli, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        job_id = await add_job(sessionmaker, "demo.held")
        past = utcnow().replace(year=2000)
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status=JobStatus.doing, lease_owner="host:1:ab", lease_expires_at=past)
            )
        job = await run.json("show", str(job_id))
        assert (job["lease_owner"], job["lease_live"]) == ("host:1:ab", False)

    async def test_bad_input_is_refused_clearly(self, run: Cli) -> None:
        state = await run("list", "--state", "stuck")
        assert state.exit_code == 2 and "Unknown state 'stuck'" in state.output
        not_an_id = await run("show", "nope")
        assert not_an_id.exit_code == 2 and "is not a job id" in not_an_id.output
        missing = await run("show", str(uuid.uuid4()))
        assert missing.exit_code == 1 and "No job with id" in missing.output
        post = await run("list", "--post", "v_pub_nothing")
        assert post.exit_code == 1 and "No post with publish_id 'v_pub_nothing'" in post.output


class TestRetryAndCancel:
    async def test_cancel_then_retry_a_queued_job(
        self, run: Cli, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        job_id = await add_job(sessionmaker, "demo.x", run_at=utcnow().replace(year=2100))
        cancelled = await run.json("cancel", str(job_id))
        assert cancelled["status"] == "cancelled"
        again = await run("cancel", str(job_id))
        assert again.exit_code == 1 and "only queued jobs can be cancelled" in again.output

        retried = await run.json("retry", str(job_id))
        assert (retried["status"], retried["attempts"], retried["finished_at"]) == (
            "todo",
            0,
            None,
        )
        job = await get_job(sessionmaker, job_id)
        assert job.run_at <= utcnow()  # due now, not in 2100

    async def test_a_running_job_is_not_retried(
        self, run: Cli, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        job_id = await add_job(sessionmaker, "demo.y")
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Job).where(Job.id == job_id).values(status=JobStatus.doing)
            )
        result = await run("retry", str(job_id))
        assert result.exit_code == 1 and "is doing" in result.output
        assert (await get_job(sessionmaker, job_id)).status is JobStatus.doing

    async def test_a_posts_job_is_cancelled_through_the_post(
        self, run: Cli, publish_id: str, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        [job] = await run.json("list", "--post", publish_id)
        result = await run("cancel", job["id"])
        assert result.exit_code == 1
        assert f"drives post {publish_id}: cancel the post instead" in result.output
        assert (await get_job(sessionmaker, uuid.UUID(job["id"]))).status is JobStatus.todo


class TestWorkers:
    async def test_live_and_dead_workers(
        self, run: Cli, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        assert await run.json("workers") == []
        serves = {"tiktok": "TikTok at https://open.tiktokapis.com", "store": "S3 bucket b"}
        now = utcnow()
        async with sessionmaker() as session, session.begin():
            await liveness.register(session, liveness.Presence("w-live", 4, serves), now=now)
            await liveness.register(
                session,
                liveness.Presence("w-dead", 2, serves),
                now=now - liveness.LIVE_WINDOW * 2,
            )
        rows = await run.json("workers")
        assert [(r["id"], r["live"], r["concurrency"]) for r in rows] == [
            ("w-live", True, 4),
            ("w-dead", False, 2),
        ]
        text = await run("workers")
        assert "w-dead: not seen for over a minute" in text.output
