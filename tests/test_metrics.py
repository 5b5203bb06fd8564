"""The database's gauges, computed at scrape time, and the helpers other modules call."""

from __future__ import annotations

import datetime as dt

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost import metrics
from zakipost.worker import enqueue, lease

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def gauges(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def value(body: bytes, name: str, **labels: str) -> float | None:
    return gauges(body).get((name, tuple(sorted(labels.items()))))


class TestDatabaseFamilies:
    async def test_jobs_by_kind_and_state(
        self, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with sessionmaker() as session, session.begin():
            await enqueue(session, "a.due", run_at=NOW - dt.timedelta(seconds=5), now=NOW)
            await enqueue(session, "a.due", run_at=NOW - dt.timedelta(minutes=5), now=NOW)
            await enqueue(session, "a.due", run_at=NOW + dt.timedelta(hours=1), now=NOW)
            await enqueue(session, "b.run", run_at=NOW - dt.timedelta(seconds=1), now=NOW)
            await enqueue(session, "c.stalled", run_at=NOW - dt.timedelta(minutes=10), now=NOW)
        async with sessionmaker() as session, session.begin():
            # b.run is held by a live worker; c.stalled by one whose lease ran out.
            await lease.claim(
                session, owner="w1", kinds={"b.run"}, limit=1, now=NOW, lease_seconds=60
            )
            await lease.claim(
                session,
                owner="w2",
                kinds={"c.stalled"},
                limit=1,
                now=NOW - dt.timedelta(minutes=9),
                lease_seconds=60,
            )
        async with sessionmaker() as session:
            body = await metrics.render(session, NOW)

        assert value(body, "zakipost_jobs", kind="a.due", state="queued") == 1
        assert value(body, "zakipost_jobs", kind="a.due", state="late") == 1
        assert value(body, "zakipost_jobs", kind="a.due", state="scheduled") == 1
        assert value(body, "zakipost_jobs", kind="a.due", state="running") == 0
        assert value(body, "zakipost_jobs", kind="b.run", state="running") == 1
        assert value(body, "zakipost_jobs", kind="c.stalled", state="late") == 1
        assert value(body, "zakipost_jobs", kind="c.stalled", state="running") == 0

    async def test_every_status_and_kind_is_shown_even_at_zero(
        self, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with sessionmaker() as session:
            body = await metrics.render(session, NOW)
        assert value(body, "zakipost_posts", status="published", kind="photo") == 0
        assert value(body, "zakipost_posts", status="queued", kind="video") == 0
        # No open job: no job series at all (kinds are whatever the queue holds).
        assert not [key for key in gauges(body) if key[0] == "zakipost_jobs"]


class TestHelpers:
    def test_webhook_delivery_counts_by_outcome(self) -> None:
        before = value(metrics.exposition(), "zakipost_webhook_deliveries_total", outcome="failed")
        metrics.webhook_delivery("failed")
        metrics.webhook_delivery("failed")
        after = value(metrics.exposition(), "zakipost_webhook_deliveries_total", outcome="failed")
        assert (after or 0) - (before or 0) == 2

    def test_no_bytes_are_not_counted(self) -> None:
        before = value(metrics.exposition(), "zakipost_media_bytes_total", direction="from_store")
        metrics.media_bytes("from_store", 0)
        metrics.media_bytes("from_store", -5)
        after = value(metrics.exposition(), "zakipost_media_bytes_total", direction="from_store")
        assert before == after
