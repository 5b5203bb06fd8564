"""Accepting, reading and listing posts. Acceptance is one transaction: the post, its first
job and the points debit commit together or not at all."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnDefault, Select, Table, bindparam, func, insert, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from zakipost import request_id
from zakipost.billing import points
from zakipost.config import Settings
from zakipost.connection import service as connection_service
from zakipost.connection.errors import ConnectionNotFound, ConnectionRevoked, ReconnectRequired
from zakipost.connection.horizon import horizon_passed, horizon_reason
from zakipost.connection.repository import ConnectionRepository, PublishTarget
from zakipost.db import dialect
from zakipost.errors import ValidationFailed
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import random_string
from zakipost.media.errors import MediaError
from zakipost.media.guard import check_url_syntax
from zakipost.models import (
    Account,
    Connection,
    ConnectionStatus,
    MediaKind,
    PhotoSource,
    PointEntry,
    Post,
    PostEvent,
    PostMode,
    PostRequest,
)
from zakipost.models.job import Job
from zakipost.pagination import Cursor
from zakipost.post.errors import (
    CREATOR_RULE_ERRORS,
    MissingScope,
    PostNotCancellable,
    PostNotFound,
    VideoTooLongForCreator,
)
from zakipost.post.repository import PostRepository, PostRow
from zakipost.post.schemas import PhotoPublishRequest, PostModeIn, VideoPublishRequest
from zakipost.publishing import daily_cap, machine, preflight
from zakipost.publishing.states import CANCELLABLE, PostStatus
from zakipost.upload import service as upload_service
from zakipost.worker import liveness
from zakipost.worker.enqueue import job_values, move_job, wake_after_commit
from zakipost.worker.wakeup import CHANNEL

RUN_TASK = "publishing.run"


def new_publish_id() -> str:
    """ZakiPost's own id: ``v_pub_`` + 16 of ``[A-Za-z0-9]``."""
    return "v_pub_" + random_string(16)


def new_photo_publish_id() -> str:
    """``p_pub_`` + 16 of ``[A-Za-z0-9]`` for photo posts."""
    return "p_pub_" + random_string(16)


class MediaKindMismatch(ValidationFailed):
    code = "media_kind_mismatch"


def job_lock(post_id: uuid.UUID) -> str:
    return f"post:{post_id}"


def usable_connection(
    connection: Connection | PublishTarget, needed_scope: str
) -> Connection | PublishTarget:
    if connection.status is ConnectionStatus.reconnect_required:
        raise ReconnectRequired(
            "This TikTok account must be connected again before it can publish: "
            + (connection.status_reason or "TikTok no longer accepts its tokens.")
        )
    if connection.status is ConnectionStatus.revoked:
        raise ConnectionRevoked()
    if horizon_passed(connection.refresh_expires_at, utcnow()):
        assert connection.refresh_expires_at is not None
        raise ReconnectRequired(horizon_reason(connection.refresh_expires_at))
    if needed_scope not in (connection.scopes or []):
        raise MissingScope(
            f"This TikTok account did not grant {needed_scope}; connect it again and allow it."
        )
    return connection


def _check_url(settings: Settings, url: str, field: str) -> None:
    try:
        check_url_syntax(
            url,
            allow_private_networks=settings.media.allow_private_networks,
            allowed_networks=settings.media.allowed_networks,
        )
    except MediaError as exc:
        exc.details.setdefault("field", field)
        raise


def _creator_allows(
    settings: Settings,
    connection: PublishTarget,
    post: Post,
    media_duration_sec: float | None,
    now: dt.datetime,
) -> None:
    """Refuse, before anything is charged, what the creator's fresh creator info rules out.
    Only the cached info is read (no TikTok call per request); without a fresh one,
    preflight asks TikTok, and a post refused there never reached TikTok, so it is refunded."""
    fresh_for = dt.timedelta(seconds=settings.publishing.creator_info_cache_seconds)
    info = connection_service.cached_creator_info(connection, now, fresh_for)
    if info is None:
        return
    draft = post.post_mode is PostMode.draft
    refused = None
    if post.kind is MediaKind.photo or not draft:
        refused = preflight.privacy_rule(post.privacy_level or "SELF_ONLY", info)
    if refused is None and not draft:
        asked = {name: getattr(post, f"disable_{name}") for name in ("comment", "duet", "stitch")}
        refused = preflight.interaction_rule(post.kind, asked, info)
    if refused is not None:
        raise CREATOR_RULE_ERRORS[refused.code](refused.message)
    longest = info.max_video_post_duration_sec
    if media_duration_sec is not None and longest and media_duration_sec > longest:
        raise VideoTooLongForCreator(
            f"The video is {media_duration_sec:.1f} s long; this TikTok account can post videos "
            f"of at most {longest} s. Trim it, or post it to another account."
        )


async def _publish_target(session: AsyncSession, account_id: uuid.UUID, ref: str) -> PublishTarget:
    """The account's connection named ``ref`` (its ``tiktok_account_id``); anyone else's is
    a 404, as with ``connection_service.get_for``."""
    try:
        token = uuid.UUID(ref)
    except ValueError:
        raise ConnectionNotFound(f"No connected TikTok account {ref!r}.") from None
    target = await ConnectionRepository.from_session(session).publish_target(account_id, token)
    if target is None:
        raise ConnectionNotFound(f"No connected TikTok account {ref!r}.")
    return target


_POSTS: Table = Post.__table__  # type: ignore[assignment]
_POST_EVENTS: Table = PostEvent.__table__  # type: ignore[assignment]
_POST_COLUMNS = tuple(_POSTS.columns)
# Built once; executed on the transaction's connection with the row's values. Acceptance
# writes its rows with Core statements, not the ORM's unit of work, which cost most of a
# publish's CPU (docs/benchmarks.md, "accept").
_INSERT_POST = insert(_POSTS)
_INSERT_POST_EVENT = insert(_POST_EVENTS)


def _post_row(post: Post) -> dict[str, Any]:
    """The values of ``post``'s row: what was set, else the column's default, which is
    also set on ``post`` so the returned object reads as the stored row. Columns left NULL
    are not passed (each bound value costs its processing)."""
    state = post.__dict__
    values: dict[str, Any] = {}
    for column in _POST_COLUMNS:
        key = column.key
        value = state.get(key)
        if value is None and key not in state:
            default = column.default
            if isinstance(default, ColumnDefault):
                value = default.arg(None) if default.is_callable else default.arg
                setattr(post, key, value)
        if value is not None:
            values[key] = value
    return values


def _write_accepted(
    session: Session,
    account_id: uuid.UUID,
    cost: int,
    reason: str,
    post: Post,
    event: PostEvent,
    run_at: dt.datetime | None,
    now: dt.datetime,
) -> None:
    """The debit, the post, its first timeline line and its job: prebuilt statements on the
    transaction's connection, in one call from the event loop."""
    connection = session.connection()
    event_row = {
        "post_id": event.post_id,
        "at": event.at,
        "status": event.status,
        "step": event.step,
        "message": event.message,
        "details": event.details,
    }
    job = _run_job(post, run_at, now)
    if cost > 0 and connection.dialect.name == "postgresql":
        params: dict[str, Any] = {
            "account_id": account_id,
            "cost": cost,
            "now": now,
            "notify_channel": CHANNEL,
        }
        entry = points.debit_entry(
            account_id, cost, reason=reason, reference=post.publish_id, now=now
        )
        row = _post_row(post)
        for prefix, values, columns in (
            ("entry_", entry, _ENTRY_COLUMNS),
            ("post_", row, _POST_COLUMNS),
            ("event_", event_row, _EVENT_COLUMNS),
            ("job_", job, _JOB_COLUMNS),
        ):
            params.update({prefix + c.key: values.get(c.key) for c in columns})
        if connection.execute(_ACCEPT_POSTGRESQL, params).first() is None:
            # Nothing was written: every part selects from the spend, which found too few
            # points (the job cannot collide: its queueing lock names this new post).
            points.raise_insufficient(connection, account_id, cost)
        wake_after_commit(session)
        return
    points.debit_on(connection, account_id, cost, reason=reason, reference=post.publish_id, now=now)
    connection.execute(_INSERT_POST, _post_row(post))
    connection.execute(_INSERT_POST_EVENT, event_row)
    if dialect.insert_job_notifying_sync(session, job, CHANNEL):
        wake_after_commit(session)


def _run_job(post: Post, run_at: dt.datetime | None, now: dt.datetime) -> dict[str, Any]:
    payload = {"post_id": str(post.id)}
    # The request that accepted the post: its id follows the post into the job's log lines.
    if (accepted_by := request_id.current()) is not None:
        payload["request_id"] = accepted_by
    lock = job_lock(post.id)
    return job_values(RUN_TASK, payload, run_at=run_at, lock=lock, queueing_lock=lock, now=now)


def _build_accept_postgresql() -> Any:
    """PostgreSQL: the whole acceptance write as one statement, each row a data-modifying
    CTE that selects from the spend, so nothing is written unless the points were there:
    one round trip and one statement's overhead instead of five. SQLite has no DML in
    CTEs; it runs them one by one (``_write_accepted``)."""

    def bound(prefix: str, columns: tuple[Column[Any], ...]) -> Select[Any]:
        return select(*(bindparam(prefix + c.key, type_=c.type) for c in columns))

    spend = points.SPEND.returning(_ACCOUNTS.c.id).cte("spend")
    entry = (
        insert(_ENTRIES)
        .from_select(list(_ENTRY_COLUMNS), bound("entry_", _ENTRY_COLUMNS).select_from(spend))
        .returning(_ENTRIES.c.id)
        .cte("entry")
    )
    post = (
        insert(_POSTS)
        .from_select(list(_POST_COLUMNS), bound("post_", _POST_COLUMNS).select_from(spend))
        .returning(_POSTS.c.id)
        .cte("post")
    )
    event = (
        insert(_POST_EVENTS)
        .from_select(list(_EVENT_COLUMNS), bound("event_", _EVENT_COLUMNS).select_from(post))
        .returning(_POST_EVENTS.c.id)
        .cte("event")
    )
    return (
        postgresql.insert(_JOBS)
        .from_select(list(_JOB_COLUMNS), bound("job_", _JOB_COLUMNS).select_from(post))
        .on_conflict_do_nothing(
            index_elements=[_JOBS.c.queueing_lock], index_where=text("status = 'todo'")
        )
        .returning(_JOBS.c.id, func.pg_notify(bindparam("notify_channel"), _JOBS.c.kind))
        .add_cte(spend, entry, event)
    )


_ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]
_ENTRIES: Table = PointEntry.__table__  # type: ignore[assignment]
_JOBS: Table = Job.__table__  # type: ignore[assignment]
_ENTRY_COLUMNS = tuple(
    _ENTRIES.c[k] for k in points.debit_entry(uuid.uuid4(), 1, reason="", reference="", now=None)
)
_EVENT_COLUMNS = tuple(
    _POST_EVENTS.c[k] for k in ("post_id", "at", "status", "step", "message", "details")
)
_JOB_COLUMNS = tuple(_JOBS.c[k] for k in job_values("kind"))
_ACCEPT_POSTGRESQL = _build_accept_postgresql()


async def _accept(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    request: VideoPublishRequest | PhotoPublishRequest,
    post: Post,
    media_duration_sec: float | None = None,
) -> Post:
    """What every post shares: the connection's state, the draft rule, the schedule, the
    debit, the first timeline line and the job, all in the caller's transaction. The post
    returned is not in the session: its row is written (read it back to change it)."""
    draft = request.post_mode is PostModeIn.draft
    connection = await _publish_target(session, account.id, request.tiktok_account_id)
    usable_connection(connection, "video.upload" if draft else "video.publish")
    if draft:
        await daily_cap.check_pending_drafts(session, connection.id)
    now = utcnow()
    post.account_id = account.id
    post.connection_id = connection.id
    post.post_mode = PostMode.draft if draft else PostMode.direct
    post.privacy_level = request.privacy_level.value if request.privacy_level else None
    post.disable_comment = request.disable_comment
    post.brand_content_toggle = request.brand_content_toggle
    post.brand_organic_toggle = request.brand_organic_toggle
    post.is_aigc = request.ai_generated_content
    post.scheduled_at = request.scheduled_at
    _creator_allows(settings, connection, post, media_duration_sec, now)
    post.cost_points = settings.billing.publish_cost
    post.tiktok_post_ids = []
    post.request = post.request.model_copy(update={"on_daily_cap": request.on_daily_cap.value})
    post.created_at = post.updated_at = now
    scheduled = request.scheduled_at is not None and request.scheduled_at > now
    if scheduled:
        assert request.scheduled_at is not None
        status, message = (
            PostStatus.scheduled,
            f"Scheduled for {request.scheduled_at:%Y-%m-%d %H:%M} UTC.",
        )
    else:
        status, message = PostStatus.queued, "Accepted; publishing starts now."
    if draft:
        message += " It will go to the creator's TikTok inbox; they open TikTok's notification to finish it."
    event = machine.new_post_status(post, status, message, now=now)
    reason = f"Publish a {post.kind.value}" + (" draft" if draft else "")
    run_at = request.scheduled_at if scheduled else None
    await session.run_sync(
        _write_accepted, account.id, settings.billing.publish_cost, reason, post, event, run_at, now
    )
    return post


async def accept_video(
    session: AsyncSession, settings: Settings, account: Account, request: VideoPublishRequest
) -> Post:
    """Validate against the account's state, charge, store and queue a video post."""
    post = Post(
        id=uuid.uuid4(), publish_id=new_publish_id(), kind=MediaKind.video, request=PostRequest()
    )
    duration: float | None = None
    if request.video_url is not None:
        _check_url(settings, request.video_url, "video_url")
        post.video_url = request.video_url
    else:
        assert request.media_id is not None
        media = await upload_service.claim_media(
            session, account.id, request.media_id, used_by=post.publish_id
        )
        if media.kind.value != "video":
            raise MediaKindMismatch(
                f"Media {request.media_id} is a {media.kind.value}, not a video."
            )
        post.request = PostRequest(media_key=media.storage_key)
        duration = media.duration_sec  # probed when it was uploaded
    post.title = request.title
    post.disable_duet = request.disable_duet
    post.disable_stitch = request.disable_stitch
    post.video_cover_timestamp_ms = request.video_cover_timestamp_ms
    return await _accept(session, settings, account, request, post, duration)


async def accept_photos(
    session: AsyncSession, settings: Settings, account: Account, request: PhotoPublishRequest
) -> Post:
    """A photo carousel: 1 to 35 images by URL or uploaded media id."""
    post = Post(
        id=uuid.uuid4(),
        publish_id=new_photo_publish_id(),
        kind=MediaKind.photo,
        request=PostRequest(),
    )
    photos: list[PhotoSource] = []
    for index, url in enumerate(request.photo_urls or []):
        _check_url(settings, url, f"photo_urls.{index}")
        photos.append(PhotoSource(url=url))
    for media_id in request.media_ids or []:
        media = await upload_service.claim_media(
            session, account.id, media_id, used_by=post.publish_id
        )
        if media.kind.value != "photo":
            raise MediaKindMismatch(f"Media {media_id} is a {media.kind.value}, not a photo.")
        photos.append(PhotoSource(media_key=media.storage_key))
    post.title = request.title
    post.description = request.description
    post.request = PostRequest(
        photos=tuple(photos),
        photo_cover_index=request.photo_cover_index,
        auto_add_music=request.auto_add_music,
    )
    return await _accept(session, settings, account, request, post)


async def cancel(
    session: AsyncSession, settings: Settings, account: Account, publish_id: str
) -> Post:
    """Cancel a post that has not reached TikTok yet, and refund its points."""
    post = await get(session, account.id, publish_id, lock=True)
    if post.status not in CANCELLABLE:
        raise PostNotCancellable(
            f"This post is {post.status.value}; only scheduled, queued or deferred posts, which "
            "have not reached TikTok yet, can be cancelled."
        )
    machine.transition(
        session, post, PostStatus.cancelled, "Cancelled by the caller; points refunded."
    )
    if post.cost_points:
        await machine.refund(session, post, reason="Post cancelled")
    await session.flush()
    return post


async def reschedule(
    session: AsyncSession, account: Account, publish_id: str, scheduled_at: dt.datetime
) -> Post:
    """Move a post that has not reached TikTok yet to another time."""
    post = await get(session, account.id, publish_id, lock=True)
    if post.status not in CANCELLABLE:
        raise PostNotCancellable(
            f"This post is {post.status.value}; only scheduled, queued or deferred posts can be "
            "rescheduled."
        )
    post.scheduled_at = scheduled_at
    post.run_at = scheduled_at
    machine.transition(
        session, post, PostStatus.scheduled, f"Rescheduled for {scheduled_at:%Y-%m-%d %H:%M} UTC."
    )
    await move_job(session, job_lock(post.id), scheduled_at)
    await session.flush()
    return post


async def get(
    session: AsyncSession, account_id: uuid.UUID, publish_id: str, *, lock: bool = False
) -> Post:
    post = await PostRepository.from_session(session).get_by_publish_id(
        account_id, publish_id, lock=lock
    )
    if post is None:
        raise PostNotFound(f"No post with publish_id {publish_id!r}.")
    return post


async def timeline(session: AsyncSession, post_id: uuid.UUID) -> list[PostEvent]:
    return list(await PostRepository.from_session(session).timeline(post_id))


@dataclass(frozen=True, slots=True)
class PostDetail:
    """What reading one post shows: the post, its connection's public id, its timeline."""

    post: Post
    tiktok_account_id: str
    events: list[PostEvent]
    username: str | None = None


async def workers_alive(session: AsyncSession, now: dt.datetime) -> bool:
    """Whether any worker was seen in the last minute (``zakipost.worker.liveness``)."""
    return await liveness.live_count(session, now=now) > 0


async def detail(session: AsyncSession, account_id: uuid.UUID, publish_id: str) -> PostDetail:
    repository = PostRepository.from_session(session)
    row = await repository.get_row(account_id, publish_id)
    if row is None:
        raise PostNotFound(f"No post with publish_id {publish_id!r}.")
    events = list(await repository.timeline(row.post.id))
    return PostDetail(row.post, row.tiktok_account_id, events, row.username)


async def list_for(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    status: PostStatus | None = None,
    connection_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: Cursor | None = None,
) -> tuple[list[PostRow], Cursor | None]:
    """Newest first; keyset pagination so pages stay stable while posts are added."""
    rows = await PostRepository.from_session(session).page(
        account_id,
        status=status,
        connection_id=connection_id,
        limit=limit + 1,
        before=cursor.key if cursor is not None else None,
    )
    page = rows[:limit]
    last = page[-1].post if page else None
    following = Cursor(last.created_at, last.id) if last is not None and len(rows) > limit else None
    return page, following
