"""Prometheus metrics: the process's instruments, and the scrape that adds the database's view.

Two kinds of numbers, because web and worker processes run apart:

- **Events this process saw** (counters and histograms in :data:`REGISTRY`): step durations,
  acceptance-to-published times, TikTok calls, token refreshes, webhook deliveries, media
  bytes. Each process counts its own; Prometheus sums them across processes.
- **State in the database** (gauges computed at scrape time by :func:`render`): posts by
  status and kind, open jobs by kind and state. Any process shows the same totals, so a
  scrape of one web process tells the whole story.

``zakipost serve`` (web and worker in one process) has one registry, this module's. Names,
labels and meaning are listed in ``docs/observability.md``; label values are bounded sets
(a step, a path template, a TikTok error code from the client's table), never ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.models import Job, JobStatus, MediaKind, Post
from zakipost.publishing.states import PostStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

# Seconds: a step takes from milliseconds (a status check) to minutes (a large upload).
_STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
# Seconds from acceptance to published: TikTok's processing takes seconds to many minutes.
_PUBLISH_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400)
_CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# A due job still unclaimed after this long is late (no worker free, or none alive).
LATE_AFTER = dt.timedelta(seconds=60)

STEP_DURATION = Histogram(
    "zakipost_post_step_duration_seconds",
    "Time one step of the publish pipeline took in this process, by step and media kind.",
    ("step", "kind"),
    buckets=_STEP_BUCKETS,
    registry=REGISTRY,
)
ACCEPTED_TO_PUBLISHED = Histogram(
    "zakipost_post_accepted_to_published_seconds",
    "Time from a post's acceptance to TikTok reporting it published (or in the inbox).",
    ("kind", "status"),
    buckets=_PUBLISH_BUCKETS,
    registry=REGISTRY,
)
TIKTOK_REQUESTS = Histogram(
    "zakipost_tiktok_request_duration_seconds",
    "TikTok API calls made by this process: latency by endpoint and outcome "
    "(_count is the number of calls).",
    ("endpoint", "outcome"),
    buckets=_CALL_BUCKETS,
    registry=REGISTRY,
)
TOKEN_REFRESHES = Counter(
    "zakipost_token_refreshes_total",
    "TikTok token refreshes sent by this process, by outcome.",
    ("outcome",),
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "zakipost_webhook_deliveries_total",
    "Outbound webhook delivery attempts made by this process, by outcome.",
    ("outcome",),
    registry=REGISTRY,
)
MEDIA_BYTES = Counter(
    "zakipost_media_bytes_total",
    "Media bytes moved by this process: fetched from callers' URLs, read from the media "
    "store, sent to TikTok.",
    ("direction",),
    registry=REGISTRY,
)

RefreshOutcome = Literal["refreshed", "refused", "answer_lost", "failed"]
WebhookOutcome = Literal["delivered", "retrying", "failed"]
MediaDirection = Literal["fetched", "from_store", "to_tiktok"]


def step_finished(step: str, kind: str, seconds: float) -> None:
    STEP_DURATION.labels(step=step, kind=kind).observe(max(seconds, 0.0))


def post_finished(kind: str, status: str, seconds: float) -> None:
    ACCEPTED_TO_PUBLISHED.labels(kind=kind, status=status).observe(max(seconds, 0.0))


def tiktok_call(endpoint: str, outcome: str, seconds: float) -> None:
    """The TikTok client's observer (see ``TikTokClient(observer=...)``)."""
    TIKTOK_REQUESTS.labels(endpoint=endpoint, outcome=outcome).observe(max(seconds, 0.0))


def token_refresh(outcome: RefreshOutcome) -> None:
    TOKEN_REFRESHES.labels(outcome=outcome).inc()


def webhook_delivery(outcome: WebhookOutcome) -> None:
    """One outbound webhook attempt: ``delivered`` (a 2xx), ``retrying`` (it will be sent
    again), ``failed`` (given up)."""
    WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()


def media_bytes(direction: MediaDirection, count: int) -> None:
    if count > 0:
        MEDIA_BYTES.labels(direction=direction).inc(count)


# -- the database's view, computed at scrape time -----------------------------------------


async def database_families(session: AsyncSession, now: dt.datetime) -> list[Metric]:
    """Posts by status and kind, and open jobs by kind and state: two GROUP BYs over
    indexed columns."""
    posts = GaugeMetricFamily(
        "zakipost_posts",
        "Posts in the database by status and media kind (all processes).",
        labels=("status", "kind"),
    )
    counted = {
        (str(status), str(kind)): int(n)
        for status, kind, n in await session.execute(
            select(Post.status, Post.kind, func.count()).group_by(Post.status, Post.kind)
        )
    }
    for status in PostStatus:
        for kind in MediaKind:
            posts.add_metric((status.value, kind.value), counted.get((status.value, kind.value), 0))

    jobs = GaugeMetricFamily(
        "zakipost_jobs",
        "Open jobs in the database by kind and state: queued (due), scheduled (due later), "
        f"running (leased), late (due over {int(LATE_AFTER.total_seconds())} s ago and "
        "unclaimed, or its worker's lease expired).",
        labels=("kind", "state"),
    )
    late_before = now - LATE_AFTER
    todo = Job.status == JobStatus.todo
    doing = Job.status == JobStatus.doing

    def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = await session.execute(
        select(
            Job.kind,
            count_where(and_(todo, Job.run_at <= now, Job.run_at > late_before)),
            count_where(and_(todo, Job.run_at > now)),
            count_where(and_(doing, Job.lease_expires_at > now)),
            count_where(
                (todo & (Job.run_at <= late_before)) | (doing & (Job.lease_expires_at <= now))
            ),
        )
        .where(Job.status.in_((JobStatus.todo, JobStatus.doing)))
        .group_by(Job.kind)
    )
    for job_kind, queued, scheduled, running, late in rows:
        for state, value in (
            ("queued", queued),
            ("scheduled", scheduled),
            ("running", running),
            ("late", late),
        ):
            jobs.add_metric((job_kind, state), int(value))
    return [posts, jobs]


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def exposition(extra: Iterable[Metric] = ()) -> bytes:
    """The text exposition of this process's registry followed by ``extra`` families."""
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Families(extra))
    return generate_latest(REGISTRY) + generate_latest(snapshot)


async def render(session: AsyncSession, now: dt.datetime) -> bytes:
    """A full scrape: this process's instruments and the database's gauges."""
    return exposition(await database_families(session, now))
