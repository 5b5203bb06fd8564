"""An upload the web accepted that the worker's store does not have (web and worker on
different stores) fails the post saying why, and refunds it: the deployment's fault."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.e2e.test_publish_flow import read
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from zakipost.billing import points
from zakipost.config import Settings
from zakipost.layout import store_location
from zakipost.models import MediaObject
from zakipost.storage.base import MediaStore
from zakipost.worker import Worker


async def balance(sessionmaker: async_sessionmaker[AsyncSession], owner: AccountWithKeys) -> int:
    async with sessionmaker() as session:
        return await points.balance(session, owner.account.id)


async def test_a_missing_upload_fails_refunded_naming_the_store(
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    uploaded = await client.post(
        "/v1/media",
        content=make_video(seconds=4),
        headers={**owner.headers, "Content-Type": "video/mp4"},
    )
    assert uploaded.status_code == 200, uploaded.text
    media_id = uploaded.json()["data"]["media_id"]
    before = await balance(sessionmaker, owner)
    accepted = await client.post(
        "/v1/tiktok/publish",
        json={"media_id": media_id, "tiktok_account_id": account_id, "privacy_level": "SELF_ONLY"},
        headers=owner.headers,
    )
    assert accepted.status_code == 200, accepted.text
    assert await balance(sessionmaker, owner) < before
    # What a worker on another store sees: the web has the upload, the worker does not.
    store: MediaStore = app.state.media_store
    async with sessionmaker() as session:
        key = await session.scalar(select(MediaObject.storage_key))
    assert key is not None
    await store.delete(key)

    await settle(worker, sessionmaker)

    post = await read(client, owner, accepted.json()["data"]["publish_id"])
    assert post["status"] == "failed", post
    assert post["error"]["code"] == "media_not_in_store"
    message = post["error"]["message"]
    assert f"not in the worker's store ({store_location(settings)})" in message
    assert "web and worker must share a store: see docs/operations.md#media" in message
    assert await balance(sessionmaker, owner) == before
