"""A post published through the sandbox, seen from the outside: ``/metrics`` moved for every
family, and every log line of its job names the post (and the request that accepted it)."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.e2e.test_publish_flow import put, read
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from zakipost import metrics
from zakipost.composition import make_tiktok_client
from zakipost.connection.tokens import access_context
from zakipost.logging import configure_logging
from zakipost.models import Connection
from zakipost.publishing.deps import PipelineDeps
from zakipost.runtime import build_worker
from zakipost.worker import Worker

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

VIDEO_STEPS = ["preflight", "fetching", "probing", "initializing", "uploading", "awaiting_tiktok"]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Logs as JSON lines on stderr; ``read()`` returns the lines since the last read."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging("DEBUG", json=True)

    def read() -> list[dict[str, Any]]:
        lines = capsys.readouterr().err.splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    yield read
    root.handlers[:] = handlers
    root.setLevel(level)


async def accept(
    client: httpx.AsyncClient, owner: AccountWithKeys, request_id: str, **fields: object
) -> str:
    response = await client.post(
        "/v1/tiktok/publish", json=fields, headers={**owner.headers, "X-Request-Id": request_id}
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-Id"] == request_id
    return str(response.json()["data"]["publish_id"])


async def test_metrics_move_with_a_published_post(
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    media_server: MediaServer,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    async with sessionmaker() as session:
        connection_id = (await session.scalars(select(Connection.id))).one()
    before = await scrape(client)
    await app.state.token_vault.refresh(connection_id, force=True)
    video = make_video(seconds=4)
    publish_id = await accept(
        client,
        owner,
        "req-metrics-1",
        video_url=put(media_server, "clip.mp4", video),
        tiktok_account_id=account_id,
    )

    queued = await scrape(client)
    assert total(queued, "zakipost_posts", status="queued", kind="video") == 1
    assert total(queued, "zakipost_jobs", kind="publishing.run", state="queued") == 1

    await settle(worker, sessionmaker)
    assert (await read(client, owner, publish_id))["status"] == "published"
    metrics.webhook_delivery("delivered")
    after = await scrape(client)

    # The database's gauges: the post moved from queued to published; its job is done.
    assert total(after, "zakipost_posts", status="published", kind="video") == 1
    assert total(after, "zakipost_posts", status="queued", kind="video") == 0
    assert total(after, "zakipost_jobs", kind="publishing.run", state="queued") == 0
    # This process's instruments.
    for step in VIDEO_STEPS:
        assert (
            moved(
                before, after, "zakipost_post_step_duration_seconds_count", step=step, kind="video"
            )
            >= 1
        ), step
    assert (
        moved(
            before,
            after,
            "zakipost_post_accepted_to_published_seconds_count",
            kind="video",
            status="published",
        )
        == 1
    )
    for endpoint in (
        "/v2/post/publish/creator_info/query/",
        "/v2/post/publish/video/init/",
        "upload",
        "/v2/post/publish/status/fetch/",
        "/v2/oauth/token/",
    ):
        calls = moved(
            before,
            after,
            "zakipost_tiktok_request_duration_seconds_count",
            endpoint=endpoint,
            outcome="ok",
        )
        assert calls >= 1, endpoint
    assert moved(before, after, "zakipost_token_refreshes_total", outcome="refreshed") == 1
    assert moved(before, after, "zakipost_webhook_deliveries_total", outcome="delivered") == 1
    assert moved(before, after, "zakipost_media_bytes_total", direction="fetched") == len(video)
    assert moved(before, after, "zakipost_media_bytes_total", direction="to_tiktok") == len(video)


async def test_every_line_of_the_job_names_the_post(
    json_logs: Any,
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    media_server: MediaServer,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    publish_id = await accept(
        client,
        owner,
        "req-logs-1",
        video_url=put(media_server, "clip.mp4", make_video(seconds=4)),
        tiktok_account_id=account_id,
    )
    accepted = json_logs()
    assert accepted, "logging was captured"
    await settle(worker, sessionmaker)
    assert (await read(client, owner, publish_id))["status"] == "published"

    lines = [line for line in json_logs() if line.get("kind") == "publishing.run"]
    assert lines, "the job logged"
    unnamed = [line for line in lines if line.get("publish_id") != publish_id]
    assert unnamed == []
    connection_id = {line.get("connection_id") for line in lines}
    assert len(connection_id) == 1 and None not in connection_id
    assert {line.get("request_id") for line in lines} == {"req-logs-1"}
    assert [line["step"] for line in lines if line["event"] == "post.step"] == VIDEO_STEPS
    events = [line["event"] for line in lines]
    assert "post.finished" in events
    assert "job.done" in events
    # TikTok's (in-process sandbox's) HTTP requests are logged inside the job too.
    assert any("HTTP Request" in line["event"] for line in lines)


@pytest.fixture
def manual_progression(sandbox: Any) -> Iterator[None]:
    previous = sandbox.config.progression
    sandbox.config.progression = "manual"
    yield
    sandbox.config.progression = previous


async def test_polling_is_logged_as_polling(
    json_logs: Any,
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    media_server: MediaServer,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    sandbox: Any,
    manual_progression: None,
) -> None:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    publish_id = await accept(
        client,
        owner,
        "req-poll-1",
        video_url=put(media_server, "clip.mp4", make_video(seconds=4)),
        tiktok_account_id=account_id,
    )
    await settle(worker, sessionmaker, max_seconds=3)
    post = await read(client, owner, publish_id)
    assert post["step"] == "awaiting_tiktok"

    lines = json_logs()
    polling = [line for line in lines if line["event"] == "post.polling"]
    assert polling and all(line["level"] == "info" for line in polling)
    assert polling[0]["reason"] == "TikTok is processing the post"
    assert polling[0]["publish_id"] == publish_id
    deferred = [line for line in lines if line["event"] == "job.deferred"]
    assert deferred and all(line["level"] == "info" for line in deferred)
    assert [line for line in lines if line["event"] == "job.error"] == []


class DropOnce(httpx.AsyncBaseTransport):
    """Refuses the first connection to ``path``: the request never reaches TikTok."""

    def __init__(self, inner: httpx.AsyncBaseTransport, path: str) -> None:
        self.inner = inner
        self.path = path
        self.dropped = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(self.path) and not self.dropped:
            self.dropped = True
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def test_a_transport_error_names_host_and_endpoint_and_no_token(
    json_logs: Any,
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    media_server: MediaServer,
    deps: PipelineDeps,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    transport = DropOnce(httpx.ASGITransport(app=app), "/v2/post/publish/status/fetch/")
    async with httpx.AsyncClient(transport=transport) as http:
        tiktok = make_tiktok_client(deps.settings, http, app.state.components.credentials)
        worker = build_worker(dataclasses.replace(deps, tiktok=tiktok), concurrency=1)
        publish_id = await accept(
            client,
            owner,
            "req-drop-1",
            video_url=put(media_server, "clip.mp4", make_video(seconds=4)),
            tiktok_account_id=account_id,
        )
        await settle(worker, sessionmaker)
    assert transport.dropped
    assert (await read(client, owner, publish_id))["status"] == "published"
    async with sessionmaker() as session:
        connection = (await session.scalars(select(Connection))).one()
    token = app.state.vault.open(
        connection.access_token_encrypted, context=access_context(connection.id)
    )

    lines = json_logs()
    failed = [line for line in lines if line["event"] == "post.step_failed"]
    assert len(failed) == 1, failed
    error = failed[0]["error"]
    assert "127.0.0.1" in error
    assert "POST /sandbox/v2/post/publish/status/fetch/" in error
    assert failed[0]["publish_id"] == publish_id
    assert token not in json.dumps(lines)
