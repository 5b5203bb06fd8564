"""Thirty simulated days of today's TikTok (2-hour access tokens, strict rotation): the
connection is refreshed about once per token lifetime, never once per sweep; every publish
uses a valid token; TikTok never sees an expired one."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.connection.conftest import connect_via_api, rotated_twice
from tests.connection.timing import SandboxLine, SimulatedTime
from tests.e2e.test_publish_flow import put, read
from tests.fixtures.app import AccountWithKeys
from tests.fixtures.media_server import MediaServer
from tests.sandbox.media import make_video
from zakipost.connection.tasks import SWEEP_EVERY, SWEEP_TASK
from zakipost.models import Connection, ConnectionStatus, Job, JobStatus
from zakipost.worker import Worker

DAYS = 30
LIFETIME = dt.timedelta(hours=2)


async def _next_job_at(
    sessionmaker: async_sessionmaker[AsyncSession], *, with_sweeps: bool
) -> dt.datetime | None:
    query = select(func.min(Job.run_at)).where(Job.status == JobStatus.todo)
    if not with_sweeps:
        # Only the refresh jobs and the posts' own: periodic jobs run at each stop anyway.
        query = query.where(
            or_(Job.queueing_lock.is_(None), Job.queueing_lock.not_like("periodic:%"))
        )
    async with sessionmaker() as session:
        return await session.scalar(query)


async def _due_sweeps(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> int:
    async with sessionmaker() as session:
        due = await session.scalar(
            select(func.count()).where(
                Job.kind == SWEEP_TASK, Job.status == JobStatus.todo, Job.run_at <= now
            )
        )
    return int(due or 0)


async def _connection(sessionmaker: async_sessionmaker[AsyncSession]) -> Connection:
    async with sessionmaker() as session:
        return (await session.scalars(select(Connection))).one()


async def test_thirty_days_refresh_about_once_per_lifetime_and_never_send_an_expired_token(
    todays_tiktok,
    client: httpx.AsyncClient,
    owner: AccountWithKeys,
    media_server: MediaServer,
    timed_worker: Worker,
    sim_time: SimulatedTime,
    line: SandboxLine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account_id = (await connect_via_api(client, owner))["tiktok_account_id"]
    video = put(media_server, "daily.mp4", make_video(seconds=4))
    start = sim_time.now()
    end = start + dt.timedelta(days=DAYS)
    # A few publishes at odd moments of a token's life.
    publish_times = [
        start + dt.timedelta(days=d, minutes=m) for d, m in ((2, 7), (11, 113), (19, 59), (29, 31))
    ]
    publish_ids: list[str] = []
    least_left = LIFETIME

    sweeps = 0
    while sim_time.now() < end:
        # The first day visits every sweep slot (the sweep must refresh nothing early); after
        # it, the refresh jobs alone keep the connection alive.
        first_day = sim_time.now() < start + dt.timedelta(days=1)
        if first_day:
            await timed_worker.schedule_periodic()
        next_job = await _next_job_at(sessionmaker, with_sweeps=first_day)
        targets = [t for t in (next_job, end) if t is not None]
        if publish_times:
            targets.append(publish_times[0])
        sim_time.advance_to(min(targets))
        if publish_times and sim_time.now() >= publish_times[0]:
            publish_times.pop(0)
            response = await client.post(
                "/v1/tiktok/publish",
                json={
                    "video_url": video,
                    "tiktok_account_id": account_id,
                    "privacy_level": "SELF_ONLY",
                },
                headers=owner.headers,
            )
            assert response.status_code == 200, response.text
            publish_ids.append(response.json()["data"]["publish_id"])
        if first_day:
            sweeps += await _due_sweeps(sessionmaker, sim_time.now())
        await timed_worker.run_until_idle()
        row = await _connection(sessionmaker)
        assert row.status is ConnectionStatus.active, row.status_reason
        assert row.access_expires_at is not None
        least_left = min(least_left, row.access_expires_at - sim_time.now())
        assert least_left > dt.timedelta(), "the stored access token expired"

    refreshes = line.accepted()
    first_day_refreshes = [r for r in line.refreshes if r.at < start + dt.timedelta(days=1)]
    assert 16 <= len(first_day_refreshes) <= 24  # 144 sweeps that day, 16-24 refreshes
    # 50-75 % of a 2-hour lifetime: between 480 and 720 refreshes in 30 days.
    lifetimes = dt.timedelta(days=DAYS) / LIFETIME
    assert lifetimes * 4 / 3 <= len(refreshes) <= lifetimes * 2
    assert len(set(refreshes)) == len(refreshes)  # each refresh token went out once
    assert sweeps >= dt.timedelta(days=1) / SWEEP_EVERY
    assert line.expired_token_refusals == []
    assert todays_tiktok.expired_token_uses == []  # TikTok never saw an expired token
    assert rotated_twice(todays_tiktok) == []
    assert len(todays_tiktok.refresh_attempts) == len(refreshes)  # none refused, none lost
    assert least_left > LIFETIME / 4
    for publish_id in publish_ids:
        post = await read(client, owner, publish_id)
        assert post["status"] == "published", post
    assert len(publish_ids) == 4
