"""Helpers for the upload tests: the app's store, multipart bodies, a second account."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import AccountWithKeys, create_account
from tests.storage.s3server import s3_endpoint
from zakipost.config import Settings
from zakipost.kit.crypto import Vault
from zakipost.models import MediaObject
from zakipost.storage import LocalStore, MediaStore, create_store

__all__ = ["s3_endpoint"]


@pytest.fixture
def media_store(app: FastAPI, settings: Settings) -> MediaStore:
    """The store the app uses (the local store under the test's data dir)."""
    store = create_store(settings)
    app.state.media_store = store
    return store


@pytest.fixture
async def stranger(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, vault: Vault
) -> AccountWithKeys:
    return await create_account(sessionmaker, settings, vault, email="stranger@example.com")


def stored_files(store: MediaStore) -> list[Path]:
    """Every object and leftover staging file of a local store."""
    assert isinstance(store, LocalStore)
    if not store.root.exists():
        return []
    return sorted(p for p in store.root.rglob("*") if p.is_file())


def multipart(
    data: bytes, filename: str = "clip.mp4", content_type: str = "video/mp4", field: str = "file"
) -> tuple[bytes, dict[str, str]]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="note"\r\n\r\n'
            "a text field that is ignored\r\n"
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def in_chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def upload(
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    data: bytes,
    content_type: str = "video/mp4",
    **params: str,
) -> httpx.Response:
    return await client.post(
        "/v1/media",
        content=data,
        params=params,
        headers={**owner.headers, "Content-Type": content_type},
    )


async def media_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[MediaObject]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(MediaObject))).all())
