"""After a full run (sign-up, connect, refresh, publish) at DEBUG level, no token, secret or
password appears anywhere in the logs."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import CALLBACK_TARGET, connect_via_api
from tests.e2e.test_publish_flow import publish, put, read
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.consent import consent
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from zakipost.connection.tokens import access_context, refresh_context
from zakipost.kit.crypto import Vault
from zakipost.logging import configure_logging
from zakipost.models import Connection
from zakipost.worker import Worker


@pytest.fixture
def debug_logs(capsys: pytest.CaptureFixture[str]):
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging("DEBUG")
    yield capsys
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_no_secret_reaches_the_logs(
    debug_logs: pytest.CaptureFixture[str],
    app,
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    media_server: MediaServer,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    async with sessionmaker() as session:
        connection = (await session.scalars(select(Connection))).one()
    first_access = vault.open(
        connection.access_token_encrypted, context=access_context(connection.id)
    )
    first_refresh = vault.open(
        connection.refresh_token_encrypted, context=refresh_context(connection.id)
    )
    await app.state.token_vault.refresh(connection.id, force=True)
    async with sessionmaker() as session:
        connection = (await session.scalars(select(Connection))).one()
    access = vault.open(connection.access_token_encrypted, context=access_context(connection.id))
    refresh = vault.open(connection.refresh_token_encrypted, context=refresh_context(connection.id))

    publish_id = await publish(
        client,
        owner,
        video_url=put(media_server, "clip.mp4", make_video(seconds=4)),
        tiktok_account_id=account_id,
    )
    await settle(worker, sessionmaker)
    assert (await read(client, owner, publish_id))["status"] == "published"
    await client.get(
        "/v1/account", headers={**owner.headers, "X-ZakiPost-Client-Secret": "wrong" * 8}
    )

    captured = debug_logs.readouterr()
    logs = captured.out + captured.err
    assert "tiktok_connected" in logs or "token_refreshed" in logs, "logging was captured"
    secrets = {
        "password": owner.password,
        "client_secret": owner.credentials.client_secret,
        "tiktok app secret": app.state.tiktok_client_secret,
        "first access token": first_access,
        "first refresh token": first_refresh,
        "access token": access,
        "refresh token": refresh,
    }
    leaked = [name for name, value in secrets.items() if value and value in logs]
    assert leaked == []
    assert "upload_token=" not in logs.replace("upload_token=[REDACTED]", "")


async def test_sql_parameters_are_never_logged(
    debug_logs: pytest.CaptureFixture[str], client: httpx.AsyncClient, owner: AccountWithKeys
) -> None:
    # SQLAlchemy's own statement log switched on as well, as an operator debugging would.
    engine_log = logging.getLogger("sqlalchemy.engine")
    previous = engine_log.level
    engine_log.setLevel(logging.DEBUG)
    debug_logs.readouterr()
    name = "key-name-seen-only-in-parameters"
    try:
        response = await client.post("/v1/api-keys", json={"name": name}, headers=owner.headers)
    finally:
        engine_log.setLevel(previous)
    assert response.status_code == 200, response.text
    captured = debug_logs.readouterr()
    logs = captured.out + captured.err
    assert "INSERT INTO api_keys" in logs, "SQL was logged at DEBUG"
    assert name not in logs
    assert response.json()["data"]["key"] not in logs


async def test_the_oauth_state_and_code_stay_out_of_access_logs(
    debug_logs: pytest.CaptureFixture[str], client: httpx.AsyncClient, owner: AccountWithKeys
) -> None:
    started = await client.post(
        "/v1/tiktok/connect", json={"redirect_url": CALLBACK_TARGET}, headers=owner.headers
    )
    result = await consent(client, started.json()["data"]["authorize_url"])
    query = parse_qs(urlsplit(result.location).query)
    state, code = query["state"][0], query["code"][0]
    assert (await client.get(result.location)).status_code == 303
    # The line uvicorn's access log writes for the callback, through the same handlers.
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:50000",
        "GET",
        result.location.removeprefix("http://testserver"),
        "1.1",
        303,
    )
    captured = debug_logs.readouterr()
    logs = captured.out + captured.err
    assert "/connect/tiktok/callback?" in logs
    assert state not in logs
    assert code not in logs
