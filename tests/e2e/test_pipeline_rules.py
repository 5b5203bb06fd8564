"""The pipeline's rules against the sandbox: SSRF refusals, token expiry mid-flight,
bounded polling, shared per-token budgets."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.e2e.test_publish_flow import publish, put, read, sandbox_posts
from tests.fixtures.app import (
    AccountWithKeys,
    client_for,
    create_account,
    make_settings,
    running_app,
)
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import app_deps, settle
from tests.sandbox.media import make_video
from zakipost.connection.tokens import access_context
from zakipost.models import Connection
from zakipost.runtime import build_worker
from zakipost.worker import Worker


class CountingTarget:
    """A "private" server on 127.0.0.2 that must never be contacted."""

    def __init__(self) -> None:
        self.hits = 0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                target.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.2:{self.server.server_address[1]}/secret.mp4"


@pytest.fixture
def private_target() -> Iterator[CountingTarget]:
    target = CountingTarget()
    yield target
    target.server.shutdown()
    target.server.server_close()


@pytest.fixture
async def guarded(tmp_path: Path, engine: AsyncEngine):
    """An app whose SSRF guard is on; only the test's media origin (127.0.0.1) is allowed."""
    settings = make_settings(
        tmp_path, media={"allow_private_networks": False, "allowed_networks": ["127.0.0.1/32"]}
    )
    async with running_app(settings, engine) as app, client_for(app) as client:
        yield app, client


def guarded_worker(app: FastAPI, resolver=None) -> Worker:
    return build_worker(app_deps(app, media_resolver=resolver))


class TestSsrf:
    @pytest.mark.parametrize(
        "url",
        [
            "http://2130706434/video.mp4",
            "http://0x7f000002/video.mp4",
            "http://[::ffff:127.0.0.2]/video.mp4",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/video.mp4",
        ],
    )
    async def test_forbidden_literal_addresses_are_refused_at_once(
        self, guarded, sessionmaker: async_sessionmaker[AsyncSession], url: str
    ) -> None:
        app, client = guarded
        owner = await create_account(sessionmaker, app.state.settings, app.state.vault)
        account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
        response = await client.post(
            "/v1/tiktok/publish",
            json={"video_url": url, "tiktok_account_id": account_id},
            headers=owner.headers,
        )
        assert response.status_code == 422
        assert response.json()["code"] == "media_url_forbidden"

    async def test_redirect_to_a_private_address_fetches_nothing(
        self, guarded, sessionmaker, media_server: MediaServer, private_target: CountingTarget
    ) -> None:
        app, client = guarded
        owner = await create_account(sessionmaker, app.state.settings, app.state.vault)
        account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
        media_server.overrides["/jump.mp4"] = (302, {"Location": private_target.url}, b"")
        publish_id = await publish(
            client, owner, video_url=media_server.url("jump.mp4"), tiktok_account_id=account_id
        )
        await settle(guarded_worker(app), sessionmaker)
        post = await read(client, owner, publish_id)
        assert post["status"] == "failed"
        assert post["error"]["code"] == "media_url_forbidden"
        assert private_target.hits == 0

    async def test_hostname_resolving_to_loopback_fetches_nothing(
        self, guarded, sessionmaker, private_target: CountingTarget
    ) -> None:
        app, client = guarded
        owner = await create_account(sessionmaker, app.state.settings, app.state.vault)
        account_id = (await connect_via_api(client, owner))["tiktok_account_id"]

        async def resolver(host: str, port: int) -> list[str]:
            return ["127.0.0.2"]

        port = private_target.server.server_address[1]
        publish_id = await publish(
            client,
            owner,
            video_url=f"http://videos.example.com:{port}/a.mp4",
            tiktok_account_id=account_id,
        )
        await settle(guarded_worker(app, resolver), sessionmaker)
        post = await read(client, owner, publish_id)
        assert post["status"] == "failed"
        assert post["error"]["code"] == "media_url_forbidden"
        assert private_target.hits == 0


@pytest.fixture
def manual_progression(sandbox) -> Iterator[None]:
    previous = sandbox.config.progression
    sandbox.config.progression = "manual"
    yield
    sandbox.config.progression = previous


class TestMidFlight:
    async def test_expired_token_is_refreshed_and_the_post_continues(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        sandbox,
        manual_progression: None,
        app: FastAPI,
    ) -> None:
        account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
        publish_id = await publish(
            client,
            owner,
            video_url=put(media_server, "clip.mp4", make_video(seconds=4)),
            tiktok_account_id=account_id,
        )
        # Run until the post waits on TikTok, then let TikTok forget the access token.
        await settle(worker, sessionmaker, max_seconds=3)
        post = await read(client, owner, publish_id)
        assert post["step"] == "awaiting_tiktok"
        async with sessionmaker() as session:
            connection = (await session.scalars(select(Connection))).one()
        token = app.state.vault.open(
            connection.access_token_encrypted, context=access_context(connection.id)
        )
        assert sandbox.expire_token(token)
        await sandbox.complete(post["tiktok_publish_id"])
        await settle(worker, sessionmaker)

        post = await read(client, owner, publish_id)
        assert post["status"] == "published"
        assert [e["step"] for e in post["timeline"]].count("initializing") == 1
        assert len(await sandbox_posts(client)) == 1

    async def test_polling_is_bounded(
        self,
        tmp_path: Path,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        media_server: MediaServer,
    ) -> None:
        settings = make_settings(tmp_path, publishing={"status_deadline_seconds": 1})
        async with running_app(settings, engine) as app, client_for(app) as client:
            app.state.sandbox_app.state.sandbox.config.progression = "manual"
            owner = await create_account(sessionmaker, settings, app.state.vault)
            account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
            publish_id = await publish(
                client,
                owner,
                video_url=put(media_server, "clip.mp4", make_video(seconds=4)),
                tiktok_account_id=account_id,
            )
            await settle(guarded_worker(app), sessionmaker, max_seconds=8)
            post = await read(client, owner, publish_id)
        assert post["status"] == "unknown"
        assert post["error"]["code"] == "outcome_unknown"
        assert "still processing" in post["error"]["message"]


class TestBudgets:
    async def test_inits_over_the_per_token_budget_wait_their_turn(
        self,
        tmp_path: Path,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        media_server: MediaServer,
    ) -> None:
        settings = make_settings(tmp_path, publishing={"init_per_minute": 2})
        async with running_app(settings, engine) as app, client_for(app) as client:
            owner = await create_account(sessionmaker, settings, app.state.vault)
            account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
            url = put(media_server, "clip.mp4", make_video(seconds=4))
            ids = [
                await publish(
                    client, owner, video_url=url, tiktok_account_id=account_id, title=f"#{n}"
                )
                for n in range(3)
            ]
            await guarded_worker(app).run_until_idle()
            posts = [await read(client, owner, publish_id) for publish_id in ids]
        statuses = Counter(p["status"] for p in posts)
        assert statuses == Counter({"published": 2, "deferred": 1}), statuses
        [waiting] = [p for p in posts if p["status"] == "deferred"]
        assert waiting["run_at"] is not None
        assert "requests a minute" in waiting["timeline"][-1]["message"]
