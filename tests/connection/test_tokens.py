"""The token vault against the sandbox: rotation, one refresh for many callers, refusals."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import rotated_twice
from tests.connection.timing import SandboxLine, SimulatedTime
from tests.fixtures.transport import RecordingTransport, fail_path
from zakipost.composition import build_components
from zakipost.connection.errors import ReconnectRequired
from zakipost.connection.tasks import REFRESH_TASK
from zakipost.connection.tokens import TokenVault, refresh_context, refresh_lease_for
from zakipost.db.engine import write_queue
from zakipost.db.write_queue import NestedWriteTransaction
from zakipost.kit.crypto import Vault
from zakipost.models import Connection, ConnectionStatus, Job
from zakipost.publishing.deps import PipelineDeps
from zakipost.sandbox.tokenlog import token_digest
from zakipost.tiktok import (
    InvalidGrant,
    OAuthServerError,
    TikTokClient,
    TikTokServerError,
    TikTokTransportError,
)
from zakipost.worker import Worker

TOKEN_PATH = "/v2/oauth/token/"


@pytest.fixture
def recorder(app: FastAPI) -> RecordingTransport:
    return RecordingTransport(httpx.ASGITransport(app=app))


@pytest.fixture
async def tiktok_http(recorder: RecordingTransport):
    async with httpx.AsyncClient(transport=recorder) as http:
        yield http


def make_client(app: FastAPI, http: httpx.AsyncClient) -> TikTokClient:
    settings = app.state.settings
    return TikTokClient(
        http,
        client_key=app.state.tiktok_client_key,
        client_secret=app.state.tiktok_client_secret,
        api_base_url=settings.tiktok_api_base_url,
        auth_base_url=settings.tiktok_auth_base_url,
    )


def make_vault(app: FastAPI, http: httpx.AsyncClient, owner: str = "w") -> TokenVault:
    return TokenVault(app.state.sessionmaker, app.state.vault, make_client(app, http), owner=owner)


async def _row(sessionmaker: async_sessionmaker[AsyncSession]) -> Connection:
    async with sessionmaker() as session:
        return (await session.scalars(select(Connection))).one()


async def _expire_soon(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Connection).values(
                access_expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
            )
        )


class TestAccessToken:
    async def test_fresh_token_needs_no_refresh(
        self, app, tiktok_http, recorder, connected: uuid.UUID, sessionmaker
    ) -> None:
        row = await _row(sessionmaker)
        token = await make_vault(app, tiktok_http).access_token(row.id)
        assert token.startswith("act.")
        assert recorder.count(TOKEN_PATH) == 0

    async def test_refresh_rotates_and_stores_the_new_refresh_token(
        self, app, tiktok_http, recorder, connected: uuid.UUID, sessionmaker, vault: Vault
    ) -> None:
        before = await _row(sessionmaker)
        old_refresh = vault.open(before.refresh_token_encrypted, context=refresh_context(before.id))
        await _expire_soon(sessionmaker)

        token = await make_vault(app, tiktok_http).access_token(before.id)

        after = await _row(sessionmaker)
        new_refresh = vault.open(after.refresh_token_encrypted, context=refresh_context(after.id))
        assert new_refresh != old_refresh
        assert after.token_generation == before.token_generation + 1
        # What TikTok said: today's 2-hour tokens.
        assert after.access_expires_in == 7200
        assert after.access_expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=115)
        assert recorder.count(TOKEN_PATH) == 1
        assert token.startswith("act.")
        # TikTok invalidated the previous refresh token.
        with pytest.raises(InvalidGrant):
            await make_client(app, tiktok_http).refresh(old_refresh)

    async def test_the_lazy_margin_follows_the_lifetime(
        self, app, tiktok_http, recorder, connected: uuid.UUID, sessionmaker
    ) -> None:
        # A 90-second token is refreshed in its last quarter (22.5 s), not its last 10 minutes.
        row = await _row(sessionmaker)
        tokens = make_vault(app, tiktok_http)
        for left, refreshes in ((40, 0), (15, 1)):
            async with sessionmaker() as session, session.begin():
                await session.execute(
                    update(Connection).values(
                        access_expires_in=90,
                        access_expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=left),
                    )
                )
            await tokens.access_token(row.id)
            assert recorder.count(TOKEN_PATH) == refreshes, left

    async def test_fifty_concurrent_callers_cause_one_refresh(
        self, app, tiktok_http, recorder, connected: uuid.UUID, sessionmaker
    ) -> None:
        row = await _row(sessionmaker)
        await _expire_soon(sessionmaker)
        # Five "workers", each with its own in-process lock, sharing the database lease.
        vaults = [make_vault(app, tiktok_http, owner=f"worker-{i}") for i in range(5)]
        tokens = await asyncio.gather(*(vaults[i % 5].access_token(row.id) for i in range(50)))
        assert recorder.count(TOKEN_PATH) == 1
        assert len(set(tokens)) == 1
        assert (await _row(sessionmaker)).status is ConnectionStatus.active


class TestRefreshLease:
    def test_the_lease_outlasts_the_request_timeout(self) -> None:
        assert refresh_lease_for(30) == dt.timedelta(seconds=45)
        assert refresh_lease_for(600) == dt.timedelta(seconds=615)

    async def test_the_process_vault_holds_it_while_the_refresh_is_in_flight(
        self, app, connected: uuid.UUID, sessionmaker
    ) -> None:
        # A lease that ran out during a slow refresh let a second process send the same
        # refresh token; the composition root sizes it from the TikTok request timeout.
        app.state.settings.tiktok.request_timeout_seconds = 300
        held: list[dt.timedelta] = []

        class Watching(httpx.AsyncBaseTransport):
            inner = httpx.ASGITransport(app=app)

            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                if request.url.path.endswith(TOKEN_PATH):
                    row = await _row(sessionmaker)
                    assert row.refresh_lock_expires_at is not None
                    held.append(row.refresh_lock_expires_at - dt.datetime.now(dt.UTC))
                return await self.inner.handle_async_request(request)

        # Another process's components, talking to this app's sandbox.
        components = build_components(
            app.state.settings,
            engine=app.state.engine,
            mount_sandbox=False,
            tiktok_transport=Watching(),
        )
        async with components.open() as deps:
            await _expire_soon(sessionmaker)
            await deps.tokens.access_token((await _row(sessionmaker)).id)
        assert len(held) == 1
        assert held[0] > dt.timedelta(seconds=300)


class TestRefreshFailures:
    async def test_refused_refresh_requires_reconnect(
        self, app, tiktok_http, connected: uuid.UUID, sessionmaker, vault: Vault
    ) -> None:
        row = await _row(sessionmaker)
        stored = vault.open(row.refresh_token_encrypted, context=refresh_context(row.id))
        # Someone else spends the refresh token (the race that kills connections).
        await make_client(app, tiktok_http).refresh(stored)
        await _expire_soon(sessionmaker)

        with pytest.raises(ReconnectRequired):
            await make_vault(app, tiktok_http).access_token(row.id)
        row = await _row(sessionmaker)
        assert row.status is ConnectionStatus.reconnect_required
        assert "refused" in (row.status_reason or "")

    async def test_server_error_leaves_the_connection_active(
        self, app, tiktok_http, recorder, connected: uuid.UUID, sessionmaker
    ) -> None:
        row = await _row(sessionmaker)
        await _expire_soon(sessionmaker)
        recorder.faults.append(
            fail_path(
                TOKEN_PATH, 503, {"error": "server_error", "error_description": "busy"}, times=1
            )
        )
        tokens = make_vault(app, tiktok_http)
        with pytest.raises((OAuthServerError, TikTokServerError)) as excinfo:
            await tokens.access_token(row.id)
        assert excinfo.value.retryable
        assert (await _row(sessionmaker)).status is ConnectionStatus.active
        # The lease was released: the next attempt refreshes.
        assert (await tokens.access_token(row.id)).startswith("act.")

    async def test_rejected_access_token_refreshes_once_and_retries(
        self, app, tiktok_http, recorder, connected: uuid.UUID, sessionmaker
    ) -> None:
        row = await _row(sessionmaker)
        recorder.faults.append(
            fail_path(
                "/v2/user/info/",
                401,
                {
                    "data": {},
                    "error": {"code": "access_token_invalid", "message": "expired", "log_id": "x"},
                },
                times=1,
            )
        )
        client = make_client(app, tiktok_http)
        tokens = TokenVault(app.state.sessionmaker, app.state.vault, client)
        user = await tokens.call(row.id, lambda t: client.get_user_info(t, ["open_id"]))
        assert user.open_id == row.open_id
        assert recorder.count(TOKEN_PATH) == 1
        assert recorder.count("/v2/user/info/") == 2


class TestLostAnswer:
    """TikTok handled a refresh (or not) and its answer never arrived."""

    async def test_handled_and_lost_ends_in_reconnect_required_after_one_learning_attempt(
        self,
        todays_tiktok,
        connected: uuid.UUID,
        timed_deps: PipelineDeps,
        timed_worker: Worker,
        sim_time: SimulatedTime,
        line: SandboxLine,
        sessionmaker,
        vault: Vault,
    ) -> None:
        sandbox = todays_tiktok
        row = await _row(sessionmaker)
        stored = vault.open(row.refresh_token_encrypted, context=refresh_context(row.id))
        sandbox.lose_next_refresh_answer()
        sim_time.advance_to(row.refresh_planned_at)
        await timed_worker.run_until_idle()

        marked = await _row(sessionmaker)
        assert marked.status is ConnectionStatus.active
        assert marked.refresh_outcome_unknown_at is not None
        assert marked.refresh_sent_generation is None

        sim_time.advance(60)  # the job's retry
        await timed_worker.run_until_idle()

        ended = await _row(sessionmaker)
        assert ended.status is ConnectionStatus.reconnect_required
        reason = ended.status_reason or ""
        assert "answer to the token refresh at" in reason and "was lost" in reason
        assert "no longer accepts the previous token" in reason
        assert "connect the account again" in reason
        # TikTok saw the stored token twice (the lost answer, the learning attempt), and
        # accepted it once.
        seen = [
            (a.refresh_token_sha256, a.outcome, a.answer_lost) for a in sandbox.refresh_attempts
        ]
        assert seen == [
            (token_digest(stored), "rotated", True),
            (token_digest(stored), "invalid_grant", False),
        ]
        assert rotated_twice(sandbox) == []
        jobs = await _refresh_jobs(sessionmaker)
        assert jobs[-1].result == "reconnect_required"

        with pytest.raises(ReconnectRequired) as excinfo:
            await timed_deps.tokens.access_token(row.id)
        assert "was lost" in excinfo.value.message
        assert len(sandbox.refresh_attempts) == 2

    async def test_never_handled_recovers_with_the_same_token(
        self,
        todays_tiktok,
        connected: uuid.UUID,
        timed_deps,
        line: SandboxLine,
        sessionmaker,
        vault: Vault,
    ) -> None:
        row = await _row(sessionmaker)
        stored = vault.open(row.refresh_token_encrypted, context=refresh_context(row.id))
        line.refresh_faults.append("unhandled_lost")
        tokens = timed_deps.tokens
        with pytest.raises(TikTokTransportError):
            await tokens.refresh(row.id, force=True)
        assert (await _row(sessionmaker)).refresh_outcome_unknown_at is not None

        token = await tokens.refresh(row.id, force=True)

        recovered = await _row(sessionmaker)
        [attempt] = todays_tiktok.refresh_attempts  # TikTok never saw the lost one
        assert attempt.refresh_token_sha256 == token_digest(stored)
        assert attempt.outcome == "rotated"
        assert recovered.status is ConnectionStatus.active
        assert recovered.refresh_outcome_unknown_at is None
        assert recovered.token_generation == row.token_generation + 1
        assert token.startswith("act.")
        assert line.accepted() == [stored]

    async def test_a_lost_learning_attempt_is_not_sent_a_third_time(
        self, todays_tiktok, connected: uuid.UUID, timed_deps, line: SandboxLine, sessionmaker
    ) -> None:
        row = await _row(sessionmaker)
        line.refresh_faults.extend(["unhandled_lost", "unhandled_lost"])
        tokens = timed_deps.tokens
        with pytest.raises(TikTokTransportError):
            await tokens.refresh(row.id, force=True)
        with pytest.raises(ReconnectRequired) as excinfo:
            await tokens.refresh(row.id, force=True)
        assert "were both lost" in excinfo.value.message
        with pytest.raises(ReconnectRequired):
            await tokens.refresh(row.id, force=True)
        assert len(line.refreshes) == 2
        assert (await _row(sessionmaker)).status is ConnectionStatus.reconnect_required

    async def test_a_crash_after_sending_makes_the_next_attempt_the_learning_one(
        self, app, tiktok_http, todays_tiktok, connected: uuid.UUID, timed_deps, line, sessionmaker
    ) -> None:
        row = await _row(sessionmaker)
        stored = app.state.vault.open(row.refresh_token_encrypted, context=refresh_context(row.id))
        # A process sent the refresh (TikTok rotated) and died before storing the answer.
        sent_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Connection).values(
                    refresh_sent_at=sent_at, refresh_sent_generation=row.token_generation
                )
            )
        await make_client(app, tiktok_http).refresh(stored)

        with pytest.raises(ReconnectRequired) as excinfo:
            await timed_deps.tokens.refresh(row.id, force=True)
        assert f"{sent_at:%Y-%m-%d %H:%M:%S} UTC was lost" in excinfo.value.message
        assert len(line.refreshes) == 1

    async def test_a_5xx_is_an_answer_not_a_lost_one(
        self, todays_tiktok, connected: uuid.UUID, timed_deps, line: SandboxLine, sessionmaker
    ) -> None:
        row = await _row(sessionmaker)
        line.inner = _FailingOnce(line.inner)
        with pytest.raises((OAuthServerError, TikTokServerError)):
            await timed_deps.tokens.refresh(row.id, force=True)
        after = await _row(sessionmaker)
        assert after.refresh_outcome_unknown_at is None
        assert after.refresh_sent_generation is None
        assert (await timed_deps.tokens.refresh(row.id, force=True)).startswith("act.")
        assert (await _row(sessionmaker)).status is ConnectionStatus.active


class _FailingOnce(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.failed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.failed and request.url.path.endswith(TOKEN_PATH):
            self.failed = True
            return httpx.Response(
                503, json={"error": "server_error", "error_description": "busy", "log_id": "x"}
            )
        return await self.inner.handle_async_request(request)


async def _refresh_jobs(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Job]:
    async with sessionmaker() as session:
        jobs = await session.scalars(
            select(Job).where(Job.kind == REFRESH_TASK).order_by(Job.created_at)
        )
        return list(jobs.all())


@contextlib.asynccontextmanager
async def _write_held(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    """This task inside a write transaction: on SQLite, a write it began on another
    connection would be refused at once (NestedWriteTransaction), never waited for."""
    async with sessionmaker() as session, session.begin():
        await session.execute(select(1))
        queue = write_queue(sessionmaker.kw["bind"])
        assert queue is not None and queue.holding()
        yield


def _read_vault(app: FastAPI, http: httpx.AsyncClient) -> TokenVault:
    return TokenVault(
        app.state.sessionmaker,
        app.state.vault,
        make_client(app, http),
        read_sessionmaker=app.state.read_sessionmaker,
    )


class TestReadsDoNotQueue:
    """The vault's own reads of the token go through read sessions: on SQLite they take no
    turn in the write queue."""

    @pytest.fixture(autouse=True)
    def _sqlite_only(self, dialect: str) -> None:
        if dialect != "sqlite":
            pytest.skip("PostgreSQL has no process-wide write lock: its writers do not queue")

    async def test_the_app_vault_reads_in_read_sessions(self, app: FastAPI) -> None:
        assert app.state.deps.tokens._read_sessionmaker is app.state.read_sessionmaker

    async def test_a_fresh_token_is_read_while_this_task_holds_the_write_lock(
        self, app, tiktok_http, recorder, connected: uuid.UUID, sessionmaker
    ) -> None:
        row = await _row(sessionmaker)
        vault = _read_vault(app, tiktok_http)
        async with _write_held(app.state.sessionmaker):
            token = await vault.access_token(row.id)
            answer = await vault.call(row.id, _echo)
        assert token.startswith("act.") and answer == token
        assert recorder.count(TOKEN_PATH) == 0

    async def test_the_write_sessionmaker_alone_still_queues(
        self, app, tiktok_http, connected: uuid.UUID, sessionmaker
    ) -> None:
        # The control: the default (no read sessionmaker) reads in a write transaction.
        row = await _row(sessionmaker)
        async with _write_held(app.state.sessionmaker):
            with pytest.raises(NestedWriteTransaction):
                await make_vault(app, tiktok_http).access_token(row.id)

    async def test_a_passed_horizon_is_marked_after_the_read_session_closed(
        self, app, tiktok_http, recorder, connected: uuid.UUID, sessionmaker
    ) -> None:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        async with sessionmaker() as session, session.begin():
            await session.execute(update(Connection).values(refresh_expires_at=past))
        row = await _row(sessionmaker)
        with pytest.raises(ReconnectRequired):
            await _read_vault(app, tiktok_http).access_token(row.id)
        assert (await _row(sessionmaker)).status is ConnectionStatus.reconnect_required
        assert recorder.count(TOKEN_PATH) == 0


async def _echo(token: str) -> str:
    return token
