"""The pipeline's side: claim_media, release_post_media, and the storage.expire_media task."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import AccountWithKeys
from tests.sandbox.media import make_photo, make_video
from tests.storage.test_store import chunks_of
from tests.upload.conftest import media_rows, stored_files, upload
from tests.worker.helpers import FakeClock, add_job
from zakipost.config import Settings
from zakipost.models import MediaStatus
from zakipost.storage import MediaStore, new_key
from zakipost.upload import tasks as upload_tasks
from zakipost.upload.errors import (
    MediaExpired,
    MediaInUse,
    MediaNotFound,
    MediaNotReady,
    MediaUnusable,
)
from zakipost.upload.service import claim_media, release_post_media
from zakipost.worker import TaskRegistry, Worker


async def uploaded(client: httpx.AsyncClient, owner: AccountWithKeys, data: bytes, ct: str) -> str:
    response = await upload(client, owner, data, ct)
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["media_id"])


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession], owner: AccountWithKeys, media_id: str, **kw
):  # type: ignore[no-untyped-def]
    async with sessionmaker() as session, session.begin():
        return await claim_media(session, owner.account.id, media_id, **kw)


class TestClaimMedia:
    async def test_claims_ready_media_once(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_store: MediaStore,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        media_id = await uploaded(client, owner, make_video(), "video/mp4")
        row = await claim(sessionmaker, owner, media_id, used_by="v_pub_1")
        assert (row.used_by, row.status) == ("v_pub_1", MediaStatus.ready)
        assert media_store.local_path(row.storage_key) is not None
        # The pipeline retrying the same step gets it back; another post does not.
        again = await claim(sessionmaker, owner, media_id, used_by="v_pub_1")
        assert again.id == row.id
        with pytest.raises(MediaInUse, match="v_pub_1"):
            await claim(sessionmaker, owner, media_id, used_by="v_pub_2")
        shown = await client.get(f"/v1/media/{media_id}", headers=owner.headers)
        assert shown.json()["data"]["used_by"] == "v_pub_1"
        assert shown.json()["data"]["expires_at"] is None
        refused = await client.delete(f"/v1/media/{media_id}", headers=owner.headers)
        assert (refused.status_code, refused.json()["code"]) == (409, "media_in_use")

    async def test_unknown_and_foreign_media(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        stranger: AccountWithKeys,
        media_store: MediaStore,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        media_id = await uploaded(client, owner, make_photo(), "image/jpeg")
        with pytest.raises(MediaNotFound):
            await claim(sessionmaker, stranger, media_id)
        with pytest.raises(MediaNotFound):
            await claim(sessionmaker, owner, "med_doesnotexist0000000000")
        assert MediaNotFound.status_code == 404

    async def test_pending_expired_and_failed(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_store: MediaStore,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        pending = await client.post(
            "/v1/media/uploads",
            json={"content_type": "video/mp4", "size": 10},
            headers=owner.headers,
        )
        with pytest.raises(MediaNotReady) as not_ready:
            await claim(sessionmaker, owner, pending.json()["data"]["media_id"])
        assert not_ready.value.status_code == 409
        page = b"<html>" * 10
        await client.put(
            f"/v1/media/uploads/{pending.json()['data']['media_id']}",
            content=page[:10],
            headers={**owner.headers, "Content-Range": "bytes 0-9/10"},
        )
        with pytest.raises(MediaUnusable) as failed:
            await claim(sessionmaker, owner, pending.json()["data"]["media_id"])
        assert failed.value.status_code == 422
        media_id = await uploaded(client, owner, make_video(), "video/mp4")
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
        with pytest.raises(MediaExpired) as expired:
            await claim(sessionmaker, owner, media_id, now=later)
        assert expired.value.status_code == 422


class TestReleasePostMedia:
    async def test_deletes_files_and_marks_rows(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_store: MediaStore,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        media_id = await uploaded(client, owner, make_video(), "video/mp4")
        row = await claim(sessionmaker, owner, media_id, used_by="v_pub_1")
        prepared = new_key("jpg")  # a photo the pipeline prepared and TikTok pulled
        await media_store.put_stream(prepared, chunks_of(b"\xff\xd8\xffjpeg"), content_type="x")
        async with sessionmaker() as session, session.begin():
            count = await release_post_media(session, media_store, [row.storage_key, prepared])
        assert count == 2
        assert stored_files(media_store) == []
        [after] = await media_rows(sessionmaker)
        assert after.status is MediaStatus.deleted
        assert (await client.get(f"/media/{prepared}")).status_code == 404
        async with sessionmaker() as session, session.begin():
            assert await release_post_media(session, media_store, [row.storage_key]) == 1


class TestExpireMedia:
    @pytest.fixture
    def worker(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        media_store: MediaStore,
    ) -> tuple[Worker, FakeClock]:
        registry = TaskRegistry()
        upload_tasks.register(registry, settings, media_store)
        clock = FakeClock()
        assert any(p.kind == "storage.expire_media" for p in registry.periodics)
        return Worker(sessionmaker, registry, clock=clock), clock

    async def test_unused_uploads_expire(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_store: MediaStore,
        sessionmaker: async_sessionmaker[AsyncSession],
        worker: tuple[Worker, FakeClock],
    ) -> None:
        runner, clock = worker
        unused = await uploaded(client, owner, make_video(), "video/mp4")
        used = await uploaded(client, owner, make_photo(), "image/jpeg")
        await claim(sessionmaker, owner, used, used_by="v_pub_9")
        resumable = await client.post(
            "/v1/media/uploads",
            json={"content_type": "video/mp4", "size": 100},
            headers=owner.headers,
        )
        await client.put(
            f"/v1/media/uploads/{resumable.json()['data']['media_id']}",
            content=b"x" * 40,
            headers={**owner.headers, "Content-Range": "bytes 0-39/100"},
        )
        assert len(stored_files(media_store)) == 3  # two files and one chunk

        await add_job(sessionmaker, "storage.expire_media", now=clock())
        await runner.run_until_idle()
        assert len(stored_files(media_store)) == 3  # nothing is due yet

        clock.advance(hours=48)
        await add_job(sessionmaker, "storage.expire_media", now=clock())
        assert await runner.run_until_idle() == 1
        rows = {row.media_id: row for row in await media_rows(sessionmaker)}
        assert rows[unused].status is MediaStatus.deleted
        assert rows[used].status is MediaStatus.ready
        assert rows[resumable.json()["data"]["media_id"]].status is MediaStatus.deleted
        [left] = stored_files(media_store)
        assert left == media_store.local_path(rows[used].storage_key)
        gone = await client.get(f"/v1/media/{unused}", headers=owner.headers)
        assert gone.status_code == 404
        with pytest.raises(MediaExpired):
            await claim(sessionmaker, owner, unused)
