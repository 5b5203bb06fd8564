"""TikTok misbehaving: 5xx, timeouts, 429s and dropped connections on every endpoint.
Posts still publish, and none twice."""

from __future__ import annotations

from collections import Counter

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.e2e.test_publish_flow import publish, put, read, sandbox_posts
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.clock import PipelineClock
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from zakipost.publishing.deps import PipelineDeps
from zakipost.runtime import build_worker

POSTS = 8
FAULT_SEED = 20261201


async def test_posts_publish_through_injected_faults(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    media_server: MediaServer,
    sessionmaker: async_sessionmaker[AsyncSession],
    deps: PipelineDeps,
    sandbox,
) -> None:
    accounts = [
        (await connect_via_api(client, owner, creator_index=0))["tiktok_account_id"],
        (await connect_via_api(client, owner, creator_index=2))["tiktok_account_id"],
    ]
    url = put(media_server, "clip.mp4", make_video(seconds=4))
    # Seeded, so a run draws the same faults in the same order of calls. An injected
    # timeout answers 504 at once: in process there is no client timeout to wait for.
    sandbox.configure(seed=FAULT_SEED, fault_timeout_seconds=0.0)
    # Every TikTok endpoint the pipeline uses misbehaves now and then.
    for endpoint in ("creator_info", "video.init", "upload", "status.fetch"):
        sandbox.faults.set_endpoint(
            endpoint,
            error_5xx_rate=0.15,
            rate_limit_rate=0.1,
            timeout_rate=0.05,
            drop_rate=0.05,
            drop_after_rate=0.1,
        )
    publish_ids = [
        await publish(
            client,
            owner,
            video_url=url,
            tiktok_account_id=accounts[n % 2],
            title=f"fault test #{n}",
            privacy_level="SELF_ONLY",
        )
        for n in range(POSTS)
    ]
    deps.settings = deps.settings.model_copy(
        update={"worker": deps.settings.worker.model_copy(update={"max_attempts": 10})}
    )
    # Retries and rate-limit backoffs are passed by moving the worker's (and the
    # sandbox's) clock: bounded by rounds of work, not by wall-clock time.
    assert isinstance(deps.clock, PipelineClock)
    await settle(build_worker(deps, concurrency=4), sessionmaker, max_seconds=3600)

    results = [await read(client, owner, publish_id) for publish_id in publish_ids]
    assert [r["status"] for r in results] == ["published"] * POSTS, [
        (r["status"], r["error"]) for r in results
    ]
    retried = [e for r in results for e in r["timeline"] if "Temporary problem" in e["message"]]
    assert retried, "the faults should have caused some retries"

    sandbox.faults.reset()
    completed = Counter(
        p["title"] for p in await sandbox_posts(client) if p["status"] == "PUBLISH_COMPLETE"
    )
    assert len(completed) == POSTS
    assert set(completed.values()) == {1}
