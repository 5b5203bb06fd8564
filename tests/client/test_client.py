"""Every client method against the running app and the sandbox, with both clients."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.client.conftest import Api, connect_with
from tests.e2e.test_publish_flow import put
from tests.fixtures.app import AccountWithKeys, client_for, create_account
from tests.fixtures.media_server import MediaServer
from tests.sandbox.media import make_photo, make_video
from zakipost.client import (
    AuthenticationError,
    Conflict,
    InsufficientPoints,
    NotFound,
    PermissionDenied,
    ValidationError,
    WaitTimeout,
)
from zakipost.client.models import PostOut
from zakipost.config import Settings
from zakipost.kit.crypto import Vault


async def test_account_points_and_keys(api: Api) -> None:
    overview = await api.call("account")
    assert overview.plan == "pro"
    assert overview.points_balance == 10_000
    points = await api.call("points", limit=5)
    assert points.balance == 10_000
    assert [e.kind.value for e in points.entries] == ["grant"]

    created = await api.call("create_key", "ci")
    assert created.key.startswith("zp_sk_")
    named = api.make(api_key=created.key)
    assert (await api.other("account", _client=named)).id == overview.id
    assert [k.name for k in await api.call("list_keys")] == ["ci"]
    revoked = await api.call("revoke_key", created.id)
    assert revoked.revoked_at is not None
    with pytest.raises(AuthenticationError) as refused:
        await api.other("account", _client=named)
    assert refused.value.code == "invalid_credentials"
    assert refused.value.status_code == 401

    rotated = await api.call("rotate_credentials")
    with pytest.raises(AuthenticationError):
        await api.call("account")
    fresh = api.make(client_key=rotated.client_key, client_secret=rotated.client_secret)
    assert (await api.other("account", _client=fresh)).client_key == rotated.client_key


async def test_connect_read_accounts_and_disconnect(api: Api, app: FastAPI) -> None:
    account_id = await connect_with(api, app)
    [listed] = await api.call("list_accounts")
    assert str(listed.tiktok_account_id) == account_id
    assert listed.status.value == "active"
    one = await api.call("get_account", account_id)
    assert one.creator_info is not None
    info = await api.call("creator_info", account_id)
    assert "SELF_ONLY" in info.privacy_level_options
    gone = await api.call("disconnect", account_id)
    assert gone.status.value == "revoked"
    with pytest.raises(NotFound) as missing:
        await api.call("get_account", str(uuid.uuid4()))
    assert missing.value.code == "tiktok_account_not_found"


async def test_publish_a_video_url_and_wait_for_it(
    api: Api, app: FastAPI, media_server: MediaServer
) -> None:
    account_id = await connect_with(api, app)
    url = put(media_server, "clip.mp4", make_video(seconds=4))
    accepted = await api.call(
        "publish_video", account_id, video_url=url, title="From the SDK", privacy_level="SELF_ONLY"
    )
    seen: list[str] = []
    post = await api.call(
        "wait", accepted.publish_id, on_update=lambda p: seen.append(p.status), timeout=600
    )
    assert post.status == "published", post.error
    assert seen[0] in ("queued", "processing") and seen[-1] == "published"
    # Between two reads the client waited what the server suggested (Retry-After: 2 s).
    assert api.sleeps and all(s == 2.0 for s in api.sleeps)
    read = await api.call("get_post", accepted.publish_id)
    assert read.tiktok_publish_id and read.timeline
    page = await api.call("list_posts", tiktok_account_id=account_id, limit=1)
    assert [p.publish_id for p in page.items] == [accepted.publish_id]
    assert page.next_cursor is None


async def test_uploads_streamed_and_resumable_with_progress(
    api: Api, app: FastAPI, tmp_path: Path
) -> None:
    account_id = await connect_with(api, app)
    video = tmp_path / "clip.mp4"
    video.write_bytes(make_video(seconds=4))
    size = video.stat().st_size
    progress: list[tuple[int, int]] = []
    media = await api.call("upload", video, progress=lambda s, t: progress.append((s, t)))
    assert media.status.value == "ready" and media.size == size
    assert progress[-1] == (size, size)
    assert (await api.call("get_media", media.media_id)).media_id == media.media_id
    assert (await api.call("delete_media", media.media_id)).status.value == "deleted"

    chunked: list[tuple[int, int]] = []
    resumable = await api.call(
        "upload",
        video,
        resumable=True,
        chunk_size=4096,
        progress=lambda s, t: chunked.append((s, t)),
    )
    assert resumable.status.value == "ready" and resumable.size == size
    assert chunked[-1] == (size, size)
    assert len({s for s, _ in chunked}) > size // 4096

    photo = tmp_path / "still.png"
    photo.write_bytes(make_photo(1080, 1350, fmt="PNG"))
    accepted = await api.call("publish_file", photo, account_id, title="A still")
    assert accepted.publish_id.startswith("p_pub_")
    accepted = await api.call(
        "publish_file", video, account_id, title="Uploaded", privacy_level="SELF_ONLY"
    )
    assert (await api.call("wait", accepted.publish_id)).status == "published"


async def test_resume_an_interrupted_upload(
    api: Api, app: FastAPI, owner: AccountWithKeys, tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(make_video(seconds=4))
    data = video.read_bytes()
    # An upload interrupted after its first chunk, sent by hand.
    async with client_for(app) as http:
        started = await http.post(
            "/v1/media/uploads",
            json={"content_type": "video/mp4", "size": len(data)},
            headers=owner.headers,
        )
        media_id = started.json()["data"]["media_id"]
        first = await http.put(
            f"/v1/media/uploads/{media_id}",
            content=data[:5000],
            headers={**owner.headers, "Content-Range": f"bytes 0-4999/{len(data)}"},
        )
        assert first.status_code == 200, first.text
    progress: list[int] = []
    media = await api.call(
        "resume_upload", media_id, video, chunk_size=8192, progress=lambda s, t: progress.append(s)
    )
    assert media.status.value == "ready" and media.size == len(data)
    assert progress[0] > 5000 and progress[-1] == len(data)
    assert (await api.call("complete_upload", media_id)).status.value == "ready"


async def test_drafts_schedules_cancel_and_reschedule(
    api: Api, app: FastAPI, owner: AccountWithKeys, media_server: MediaServer
) -> None:
    account_id = await connect_with(api, app)
    url = put(media_server, "clip.mp4", make_video(seconds=4))
    draft = await api.call("publish_video", account_id, video_url=url, draft=True)
    assert (await api.call("wait", draft.publish_id)).status == "in_inbox"

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    scheduled = await api.call(
        "publish_photos",
        account_id,
        photo_urls=[put(media_server, "a.jpg", make_photo(1080, 1350))],
        privacy_level="SELF_ONLY",
        scheduled_at=later,
    )
    moved = await api.call("reschedule_post", scheduled.publish_id, later + dt.timedelta(hours=1))
    assert moved.status == "scheduled"
    assert moved.scheduled_at is not None
    assert abs(moved.scheduled_at - (later + dt.timedelta(hours=1))) < dt.timedelta(seconds=1)
    with pytest.raises(WaitTimeout) as waiting:
        await api.call("wait", scheduled.publish_id, timeout=0.001)
    assert isinstance(waiting.value.post, PostOut) and waiting.value.post.status == "scheduled"
    async with client_for(app) as http:
        read = await http.get(f"/v1/tiktok/publish/{scheduled.publish_id}", headers=owner.headers)
        # The server suggests reading a scheduled post again at its time, not before.
        assert int(read.headers["Retry-After"]) > 2 * 24 * 3600 - 120
        cancelled = await api.call("cancel_post", scheduled.publish_id)
        assert cancelled.status == "cancelled"
        ended = await http.get(f"/v1/tiktok/publish/{scheduled.publish_id}", headers=owner.headers)
        assert "Retry-After" not in ended.headers
    seen = [p.publish_id async for p in _iterate(api, account_id)]
    assert seen == [scheduled.publish_id, draft.publish_id]


async def _iterate(api: Api, account_id: str):  # type: ignore[no-untyped-def]
    if api.kind == "async":
        async for post in api.client.iter_posts(tiktok_account_id=account_id, page_size=1):
            yield post
    else:
        import asyncio

        for post in await asyncio.to_thread(
            lambda: list(api.client.iter_posts(tiktok_account_id=account_id, page_size=1))
        ):
            yield post


async def test_errors_carry_the_envelope(
    api: Api,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    vault: Vault,
    media_server: MediaServer,
) -> None:
    account_id = await connect_with(api, app)
    with pytest.raises(NotFound) as missing:
        await api.call("get_post", "v_pub_nothing")
    assert missing.value.code == "post_not_found"
    with pytest.raises(ValidationError) as local:
        await api.call("publish_video", account_id)
    assert "video_url or media_id" in local.value.message
    with pytest.raises(ValidationError) as remote:
        await api.call("publish_video", account_id, video_url="ftp://example.com/a.mp4")
    assert remote.value.status_code == 422 and remote.value.code == "media_url_invalid"
    url = put(media_server, "clip.mp4", make_video(seconds=4))
    await api.call("publish_video", account_id, video_url=url, idempotency_key="same")
    with pytest.raises(Conflict) as reused:
        await api.call(
            "publish_video", account_id, video_url=url, title="other", idempotency_key="same"
        )
    assert reused.value.code == "idempotency_key_reused"
    with pytest.raises(Conflict) as presign:
        await api.call("presign", "video/mp4", size=1000)
    assert presign.value.code == "presign_unavailable"

    poor = await create_account(sessionmaker, settings, vault, email="poor@example.com", points=0)
    broke = api.make(
        client_key=poor.credentials.client_key, client_secret=poor.credentials.client_secret
    )
    own_account = await connect_with(api, app, broke)
    with pytest.raises(InsufficientPoints) as short:
        await api.other("publish_video", own_account, video_url=url, _client=broke)
    assert short.value.status_code == 402
    free = await create_account(
        sessionmaker, settings, vault, email="free@example.com", plan="free"
    )
    plain = api.make(
        client_key=free.credentials.client_key, client_secret=free.credentials.client_secret
    )
    with pytest.raises(PermissionDenied) as denied:
        await api.other("account", _client=plain)
    assert denied.value.code == "plan_without_api_access"
