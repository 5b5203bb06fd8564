"""Fair points against the sandbox: what can be refused before accepting costs nothing; a
post that never reached TikTok is refunded whatever the cause, once; a post TikTok failed
after its init is refunded as before; ZAKIPOST_BILLING_CHARGE_CALLER_ERRORS keeps the
caller's errors charged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api
from tests.e2e.test_publish_flow import publish, put, read
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.media_server import MediaServer
from tests.fixtures.pipeline import settle
from tests.sandbox.media import make_video
from tests.upload.conftest import upload
from zakipost.billing import points
from zakipost.config import Settings
from zakipost.models import PointEntry, PointEntryKind, Post
from zakipost.worker import Worker

# Creators of the sandbox, by their place on the consent page.
PRIVATE, QUIET, SHORT = 1, 2, 3


async def _connect(client: httpx.AsyncClient, owner: AccountWithKeys, index: int = 0) -> str:
    return (await connect_via_api(client, owner, creator_index=index))["tiktok_account_id"]


async def _fresh_creator_info(client: httpx.AsyncClient, owner: AccountWithKeys, ref: str) -> None:
    # Reading the account fetches and caches its creator info.
    response = await client.get(f"/v1/tiktok/accounts/{ref}", headers=owner.headers)
    assert response.status_code == 200, response.text


async def _ledger(
    sessionmaker: async_sessionmaker[AsyncSession], reference: str
) -> list[tuple[PointEntryKind, int]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(PointEntry.kind, PointEntry.amount)
            .where(PointEntry.reference == reference)
            .order_by(PointEntry.created_at)
        )
        return [(kind, amount) for kind, amount in rows.all()]


async def _balance(sessionmaker: async_sessionmaker[AsyncSession], owner: AccountWithKeys) -> int:
    async with sessionmaker() as session:
        return await points.balance(session, owner.account.id)


async def _posts(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Post]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Post))).all())


def _html(server: MediaServer) -> str:
    server.overrides["/share"] = (200, {"Content-Type": "text/html"}, b"<!doctype html><p>Drive")
    return server.url("share")


def _missing(server: MediaServer) -> str:
    return server.url("nothing-here.mp4")  # a 404


def _too_short(server: MediaServer) -> str:
    return put(server, "blink.mp4", make_video(seconds=1))


def _fine(server: MediaServer) -> str:
    return put(server, "clip.mp4", make_video(seconds=4))


class TestNeverReachedTikTok:
    @pytest.mark.parametrize(
        ("video", "creator", "privacy", "code"),
        [
            (_html, 0, None, "media_not_a_video"),
            (_missing, 0, None, None),
            (_too_short, 0, None, "duration_check_failed"),
            # No fresh creator info at acceptance: preflight asks TikTok and refuses.
            (_fine, PRIVATE, "PUBLIC_TO_EVERYONE", "privacy_level_not_allowed"),
        ],
        ids=["html_page", "404", "too_short", "privacy_mismatch"],
    )
    async def test_a_failure_before_tiktok_is_refunded_once(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        video: Any,
        creator: int,
        privacy: str | None,
        code: str | None,
    ) -> None:
        ref = await _connect(client, owner, creator)
        before = await _balance(sessionmaker, owner)
        fields: dict[str, Any] = {"video_url": video(media_server), "tiktok_account_id": ref}
        if privacy:
            fields["privacy_level"] = privacy
        publish_id = await publish(client, owner, **fields)
        await settle(worker, sessionmaker)

        post = await read(client, owner, publish_id)
        assert post["status"] == "failed"
        assert post["tiktok_publish_id"] is None
        if code is not None:
            assert code in (post["error"]["code"], post["error"]["tiktok_fail_reason"]), post
        cost = settings.billing.publish_cost
        assert (post["points_cost"], post["points_charged"]) == (cost, 0)
        assert await _ledger(sessionmaker, publish_id) == [
            (PointEntryKind.debit, -cost),
            (PointEntryKind.refund, cost),
        ]
        assert await _balance(sessionmaker, owner) == before

    async def test_caller_errors_stay_charged_when_the_operator_says(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        settings.billing.charge_caller_errors = True
        ref = await _connect(client, owner)
        publish_id = await publish(
            client, owner, video_url=_html(media_server), tiktok_account_id=ref
        )
        await settle(worker, sessionmaker)
        post = await read(client, owner, publish_id)
        assert post["status"] == "failed"
        assert post["points_charged"] == settings.billing.publish_cost
        assert await _ledger(sessionmaker, publish_id) == [
            (PointEntryKind.debit, -settings.billing.publish_cost)
        ]


class TestFailedAtTikTok:
    async def test_a_failure_after_the_init_is_refunded_as_before(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        sandbox: Any,
        worker: Worker,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        ref = await _connect(client, owner)
        sandbox.faults.fail_next("spam_risk_user_banned_from_posting")
        publish_id = await publish(
            client, owner, video_url=_fine(media_server), tiktok_account_id=ref
        )
        await settle(worker, sessionmaker)
        post = await read(client, owner, publish_id)
        assert post["status"] == "failed"
        assert post["tiktok_publish_id"] is not None
        assert post["points_charged"] == 0
        assert [kind for kind, _ in await _ledger(sessionmaker, publish_id)] == [
            PointEntryKind.debit,
            PointEntryKind.refund,
        ]


class TestRefusedUpFront:
    async def _refused(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
        fields: dict[str, Any],
        status: int,
        code: str,
    ) -> str:
        before = await _balance(sessionmaker, owner)
        response = await client.post("/v1/tiktok/publish", json=fields, headers=owner.headers)
        assert response.status_code == status, response.text
        body = response.json()
        assert body["code"] == code, body
        assert await _balance(sessionmaker, owner) == before
        assert await _posts(sessionmaker) == []
        return str(body["message"])

    async def test_a_privacy_level_fresh_creator_info_rules_out(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        ref = await _connect(client, owner, PRIVATE)
        await _fresh_creator_info(client, owner, ref)
        fields = {
            "video_url": _fine(media_server),
            "tiktok_account_id": ref,
            "privacy_level": "PUBLIC_TO_EVERYONE",
        }
        message = await self._refused(
            client, owner, sessionmaker, fields, 422, "privacy_level_not_allowed"
        )
        assert "SELF_ONLY" in message

    async def test_an_interaction_the_creator_turned_off(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        ref = await _connect(client, owner, QUIET)
        await _fresh_creator_info(client, owner, ref)
        fields = {
            "video_url": _fine(media_server),
            "tiktok_account_id": ref,
            "disable_comment": False,
        }
        message = await self._refused(
            client, owner, sessionmaker, fields, 422, "comment_disabled_by_creator"
        )
        assert "disable_comment: true" in message

    async def test_an_uploaded_video_longer_than_the_creator_may_post(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        ref = await _connect(client, owner, SHORT)
        await _fresh_creator_info(client, owner, ref)
        uploaded = await upload(client, owner, make_video(seconds=62, width=360, height=640))
        assert uploaded.status_code in (200, 201), uploaded.text
        media_id = uploaded.json()["data"]["media_id"]
        fields = {"media_id": media_id, "tiktok_account_id": ref}
        message = await self._refused(
            client, owner, sessionmaker, fields, 422, "duration_check_failed"
        )
        assert "at most 60 s" in message

    @pytest.mark.parametrize(
        "url", ["ftp://example.com/clip.mp4", "http://example.com:0/clip.mp4", "file:///etc/x"]
    )
    async def test_a_url_that_cannot_be_fetched(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        sessionmaker: async_sessionmaker[AsyncSession],
        url: str,
    ) -> None:
        ref = await _connect(client, owner)
        fields = {"video_url": url, "tiktok_account_id": ref}
        await self._refused(client, owner, sessionmaker, fields, 422, "media_url_invalid")

    async def test_a_disconnected_account(
        self,
        client: httpx.AsyncClient,
        owner: AccountWithKeys,
        media_server: MediaServer,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        ref = await _connect(client, owner)
        gone = await client.delete(f"/v1/tiktok/accounts/{ref}", headers=owner.headers)
        assert gone.status_code == 200, gone.text
        fields = {"video_url": _fine(media_server), "tiktok_account_id": ref}
        await self._refused(client, owner, sessionmaker, fields, 409, "tiktok_account_revoked")
